"""Tests for directory.geocoding: the offline ZIP geocoder, backend selection and caching."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from geopy.exc import GeocoderServiceError, GeocoderTimedOut
from geopy.geocoders import Nominatim
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location
from geopy.point import Point

from directory import geocoding
from directory.geocoding import (
    GeocodeResult,
    GeocodingError,
    GeocodingUnavailable,
    OfflineZipGeocoder,
    distance_miles,
    geocode,
    get_geocoder,
    parse_lat_lng,
)

EUREKA = (40.80, -124.16)
ARCATA = (40.87, -124.08)
FAKE_PATH = "tests.directory.test_geocoding.FakeGeocoder"


class FakeGeocoder(Geocoder):
    """A geopy geocoder that records its calls and answers from class attributes."""

    calls: ClassVar[list[tuple[Any, dict[str, Any]]]] = []
    response: ClassVar[Any] = None
    error: ClassVar[Exception | None] = None

    def geocode(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL):
        type(self).calls.append((query, {"exactly_one": exactly_one}))
        if type(self).error is not None:
            raise type(self).error
        return type(self).response


class FakeCountryGeocoder(FakeGeocoder):
    """Like FakeGeocoder, but its geocode() accepts country_codes (as Nominatim's does)."""

    def geocode(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL, country_codes=None):
        type(self).calls.append(
            (query, {"exactly_one": exactly_one, "country_codes": country_codes})
        )
        return type(self).response


class NotAGeocoder:
    def geocode(self, query):
        return None


def fake_location(lat: float, lng: float, address: str = "1 Main St, Eureka, CA") -> Location:
    return Location(address, Point(lat, lng), {"place_id": 1})


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    cache.clear()
    FakeGeocoder.calls = []
    FakeGeocoder.response = None
    FakeGeocoder.error = None
    yield
    cache.clear()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to open a network connection fail loudly."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def fake_backend(settings: Any) -> type[FakeGeocoder]:
    settings.HANDOFF_GEOCODER = {"BACKEND": FAKE_PATH}
    return FakeGeocoder


def near(point: tuple[float, float], expected: tuple[float, float], tolerance: float = 0.2) -> bool:
    return abs(point[0] - expected[0]) <= tolerance and abs(point[1] - expected[1]) <= tolerance


# --------------------------------------------------------------------------------------
# OfflineZipGeocoder
# --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_network")
class TestOfflineZipGeocoder:
    def test_is_a_geopy_geocoder(self) -> None:
        assert isinstance(OfflineZipGeocoder(), Geocoder)

    def test_bare_zip(self) -> None:
        location = OfflineZipGeocoder().geocode("95501")
        assert isinstance(location, Location)
        assert isinstance(location.latitude, float)
        assert isinstance(location.longitude, float)
        assert near((location.latitude, location.longitude), EUREKA)
        assert location.address == "Eureka, CA 95501"
        assert location.raw["zip_code"] == "95501"
        assert location.raw["city"] == "Eureka"
        assert location.raw["state"] == "CA"
        assert location.raw["county"] == "Humboldt County"
        assert location.raw["precision"] == "zip"

    def test_free_form_address_uses_its_zip(self) -> None:
        location = OfflineZipGeocoder().geocode("2200 Harrison Ave, Eureka, CA 95501")
        assert location is not None
        assert near((location.latitude, location.longitude), EUREKA)
        assert location.raw["zip_code"] == "95501"

    def test_last_zip_token_wins(self) -> None:
        location = OfflineZipGeocoder().geocode("12345 Main St, Arcata, CA 95521")
        assert location is not None
        assert location.raw["zip_code"] == "95521"

    @pytest.mark.parametrize("query", ["95501-1234", "PO Box 1, Eureka, CA 95501-1234"])
    def test_zip_plus_four(self, query: str) -> None:
        location = OfflineZipGeocoder().geocode(query)
        assert location is not None
        assert location.raw["zip_code"] == "95501"
        assert near((location.latitude, location.longitude), EUREKA)

    def test_structured_postalcode(self) -> None:
        location = OfflineZipGeocoder().geocode({"postalcode": "95521", "country": "US"})
        assert location is not None
        assert location.raw["city"] == "Arcata"
        assert location.address == "Arcata, CA 95521"
        assert near((location.latitude, location.longitude), ARCATA)

    def test_structured_without_postalcode(self) -> None:
        assert OfflineZipGeocoder().geocode({"city": "Eureka", "state": "CA"}) is None

    @pytest.mark.parametrize(
        "query",
        ["Eureka, CA", "00000", "", "   ", "1234", "955011", "call 7074451234"],
    )
    def test_no_match(self, query: str) -> None:
        assert OfflineZipGeocoder().geocode(query) is None

    def test_exactly_one_false_returns_list(self) -> None:
        locations = OfflineZipGeocoder().geocode("95501", exactly_one=False)
        assert isinstance(locations, list)
        assert len(locations) == 1
        assert locations[0].raw["zip_code"] == "95501"
        assert OfflineZipGeocoder().geocode("Eureka", exactly_one=False) is None

    def test_country_codes(self) -> None:
        geocoder = OfflineZipGeocoder()
        assert geocoder.geocode("95501", country_codes="us") is not None
        assert geocoder.geocode("95501", country_codes=["ca", "US"]) is not None
        assert geocoder.geocode("95501", country_codes="ca") is None

    def test_inactive_zip_is_no_match(self, monkeypatch: pytest.MonkeyPatch) -> None:
        row = {"zip_code": "95501", "active": False, "lat": "40.79", "long": "-124.15"}
        monkeypatch.setattr(geocoding.zipcodes, "matching", lambda zip_code: [row])
        assert OfflineZipGeocoder().geocode("95501") is None


# --------------------------------------------------------------------------------------
# geocode()
# --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_network")
def test_geocode_offline_by_default(settings: Any) -> None:
    del settings.HANDOFF_GEOCODER
    result = geocode("  2200 Harrison Ave,\n Eureka,   CA 95501 ")
    assert isinstance(result, GeocodeResult)
    assert result.provider == "OfflineZipGeocoder"
    assert result.precision == "zip"
    assert result.label == "Eureka, CA 95501"
    assert near(result.point, EUREKA)
    assert geocode("Eureka, CA") is None


def test_geocode_result_is_frozen() -> None:
    result = GeocodeResult(1.0, 2.0, "x", "zip", "OfflineZipGeocoder")
    with pytest.raises(AttributeError):
        result.latitude = 3.0  # type: ignore[misc]


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_geocode_blank_does_not_call_backend(fake_backend: type[FakeGeocoder], query: str) -> None:
    assert geocode(query) is None
    assert fake_backend.calls == []


def test_geocode_uses_backend_and_caches(fake_backend: type[FakeGeocoder]) -> None:
    fake_backend.response = fake_location(40.8021, -124.1637)
    first = geocode("1 Main St,  Eureka")
    assert first == GeocodeResult(
        latitude=40.8021,
        longitude=-124.1637,
        label="1 Main St, Eureka, CA",
        precision="address",
        provider="FakeGeocoder",
    )
    assert fake_backend.calls == [("1 Main St, Eureka", {"exactly_one": True})]

    fake_backend.response = fake_location(10.0, 10.0)
    assert geocode("1 Main St, Eureka") == first
    assert geocode("1  main st,  EUREKA ") == first
    assert len(fake_backend.calls) == 1


def test_geocode_cache_is_per_country(fake_backend: type[FakeGeocoder]) -> None:
    fake_backend.response = fake_location(40.8, -124.1)
    geocode("Eureka", country="US")
    geocode("Eureka", country="CA")
    assert len(fake_backend.calls) == 2


def test_geocode_caches_no_match(fake_backend: type[FakeGeocoder]) -> None:
    assert geocode("nowhere at all") is None
    fake_backend.response = fake_location(40.8, -124.1)
    assert geocode("nowhere at all") is None
    assert len(fake_backend.calls) == 1


def test_geocode_cache_seconds_setting(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.HANDOFF_GEOCODER = {"BACKEND": FAKE_PATH, "CACHE_SECONDS": 123}
    timeouts: list[Any] = []
    real_set = cache.set
    monkeypatch.setattr(
        geocoding,
        "cache",
        SimpleNamespace(
            get=cache.get,
            set=lambda key, value, timeout: (timeouts.append(timeout), real_set(key, value, 1)),
        ),
    )
    geocode("Eureka")
    assert timeouts == [123]


@pytest.mark.parametrize("error", [GeocoderTimedOut("timed out"), GeocoderServiceError("HTTP 500")])
def test_geocode_service_error_is_raised_and_not_cached(
    fake_backend: type[FakeGeocoder], error: Exception
) -> None:
    fake_backend.error = error
    with pytest.raises(GeocodingUnavailable) as excinfo:
        geocode("1 Main St, Eureka")
    assert isinstance(excinfo.value, GeocodingError)
    assert excinfo.value.__cause__ is error

    fake_backend.error = None
    fake_backend.response = fake_location(40.8, -124.1)
    result = geocode("1 Main St, Eureka")
    assert result is not None
    assert len(fake_backend.calls) == 2


def test_geocode_cache_key_hides_query(
    fake_backend: type[FakeGeocoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys: list[str] = []

    class RecordingCache:
        def get(self, key: str, *args: Any) -> Any:
            keys.append(key)
            return cache.get(key, *args)

        def set(self, key: str, *args: Any) -> None:
            keys.append(key)
            cache.set(key, *args)

    monkeypatch.setattr(geocoding, "cache", RecordingCache())
    fake_backend.response = fake_location(40.8, -124.1)
    geocode("2200 Harrison Ave, Eureka, CA 95501")
    assert keys
    assert len(set(keys)) == 1
    for key in keys:
        lowered = key.lower()
        for fragment in ("2200", "harrison", "eureka", "95501"):
            assert fragment not in lowered


@pytest.mark.parametrize(
    "location",
    [
        fake_location(0.0, 0.0),
        SimpleNamespace(latitude=123.0, longitude=-124.1, address="x", raw={}),
        SimpleNamespace(latitude=40.8, longitude=-200.0, address="x", raw={}),
        SimpleNamespace(latitude=float("nan"), longitude=-124.1, address="x", raw={}),
        SimpleNamespace(latitude=None, longitude=None, address="x", raw={}),
    ],
)
def test_geocode_rejects_bad_coordinates(fake_backend: type[FakeGeocoder], location: Any) -> None:
    fake_backend.response = location
    assert geocode("somewhere") is None


def test_geocode_takes_first_of_a_list(fake_backend: type[FakeGeocoder]) -> None:
    fake_backend.response = [fake_location(40.8, -124.1), fake_location(1.0, 1.0)]
    result = geocode("somewhere")
    assert result is not None
    assert result.point == (40.8, -124.1)


def test_geocode_precision_from_raw(fake_backend: type[FakeGeocoder]) -> None:
    fake_backend.response = Location("x", Point(40.8, -124.1), {"precision": "street"})
    result = geocode("somewhere")
    assert result is not None
    assert result.precision == "street"


def test_country_codes_only_when_accepted(settings: Any) -> None:
    settings.HANDOFF_GEOCODER = {"BACKEND": "tests.directory.test_geocoding.FakeCountryGeocoder"}
    FakeGeocoder.response = fake_location(40.8, -124.1)
    geocode("Eureka", country="US")
    assert FakeGeocoder.calls == [("Eureka", {"exactly_one": True, "country_codes": "us"})]

    settings.HANDOFF_GEOCODER = {"BACKEND": FAKE_PATH}
    geocode("Arcata", country="US")  # FakeGeocoder.geocode would fail on country_codes
    assert FakeGeocoder.calls[-1] == ("Arcata", {"exactly_one": True})


# --------------------------------------------------------------------------------------
# get_geocoder()
# --------------------------------------------------------------------------------------


def test_get_geocoder_defaults_to_offline(settings: Any) -> None:
    del settings.HANDOFF_GEOCODER
    geocoder = get_geocoder()
    assert isinstance(geocoder, OfflineZipGeocoder)
    assert get_geocoder() is geocoder


def test_get_geocoder_nominatim_with_options(settings: Any) -> None:
    settings.HANDOFF_GEOCODER = {
        "BACKEND": "geopy.geocoders.Nominatim",
        "OPTIONS": {"user_agent": "handoff", "domain": "nominatim.example.org"},
    }
    geocoder = get_geocoder()
    assert isinstance(geocoder, Nominatim)
    assert geocoder.domain == "nominatim.example.org"
    assert geocoder.headers["User-Agent"] == "handoff"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"BACKEND": "geopy.geocoders.DoesNotExist"}, "could not be imported"),
        ({"BACKEND": "no_such_module.Geocoder"}, "could not be imported"),
        ({"BACKEND": "tests.directory.test_geocoding.NotAGeocoder"}, "not a geopy geocoder"),
        ({"BACKEND": "directory.geocoding.geocode"}, "not a geopy geocoder"),
        ({"BACKEND": FAKE_PATH, "OPTIONS": {"no_such_option": 1}}, "not valid"),
        ({"BACKEND": FAKE_PATH, "OPTIONS": ["x"]}, "OPTIONS"),
        ("geopy.geocoders.Nominatim", "must be a dict"),
    ],
)
def test_get_geocoder_misconfigured(settings: Any, config: Any, message: str) -> None:
    settings.HANDOFF_GEOCODER = config
    with pytest.raises(ImproperlyConfigured, match=message):
        get_geocoder()


def test_get_geocoder_rebuilt_when_settings_change(settings: Any) -> None:
    settings.HANDOFF_GEOCODER = {"BACKEND": FAKE_PATH}
    first = get_geocoder()
    assert isinstance(first, FakeGeocoder)
    assert get_geocoder() is first

    settings.HANDOFF_GEOCODER = {"BACKEND": FAKE_PATH, "OPTIONS": {"timeout": 3}}
    second = get_geocoder()
    assert second is not first
    assert second.timeout == 3

    settings.HANDOFF_GEOCODER = {"BACKEND": "directory.geocoding.OfflineZipGeocoder"}
    assert isinstance(get_geocoder(), OfflineZipGeocoder)


# --------------------------------------------------------------------------------------
# parse_lat_lng() and distance_miles()
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("40.80,-124.16", (40.80, -124.16)),
        ("40.80, -124.16", (40.80, -124.16)),
        (" 40 , -124 ", (40.0, -124.0)),
        ("-90,180", (-90.0, 180.0)),
        ("+.5,-.25", (0.5, -0.25)),
    ],
)
def test_parse_lat_lng(text: str, expected: tuple[float, float]) -> None:
    assert parse_lat_lng(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Eureka, CA",
        "40.80",
        "40.80,",
        "40.80 -124.16",
        "40.80,-124.16,3",
        "nan,inf",
        "1e3,2",
        "90.5,0",
        "-91,0",
        "40,180.01",
        "40,-181",
    ],
)
def test_parse_lat_lng_rejects(text: str) -> None:
    assert parse_lat_lng(text) is None


def test_distance_miles_eureka_to_arcata() -> None:
    miles = distance_miles((40.8021, -124.1637), (40.8665, -124.0828))
    assert miles == pytest.approx(6.1, abs=0.5)
    assert distance_miles((40.8665, -124.0828), (40.8021, -124.1637)) == pytest.approx(miles)
    assert distance_miles((40.8021, -124.1637), (40.8021, -124.1637)) == 0.0


def test_production_geocoder_comes_from_the_environment(monkeypatch):
    import importlib

    from cms.settings import base

    monkeypatch.setenv("GEOCODER_BACKEND", "geopy.geocoders.Nominatim")
    monkeypatch.setenv("GEOCODER_OPTIONS", '{"user_agent": "handoff-test"}')
    try:
        reloaded = importlib.reload(base)
        assert reloaded.HANDOFF_GEOCODER["BACKEND"] == "geopy.geocoders.Nominatim"
        assert reloaded.HANDOFF_GEOCODER["OPTIONS"] == {"user_agent": "handoff-test"}
        monkeypatch.setenv("GEOCODER_OPTIONS", "not json")
        with pytest.raises(ImproperlyConfigured, match="GEOCODER_OPTIONS"):
            importlib.reload(base)
    finally:
        monkeypatch.delenv("GEOCODER_BACKEND")
        monkeypatch.delenv("GEOCODER_OPTIONS")
        importlib.reload(base)
