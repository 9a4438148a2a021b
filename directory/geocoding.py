"""Geocoding for the directory: one small interface over geopy.

The rest of the app calls :func:`geocode` (text → :class:`GeocodeResult` or ``None``),
:func:`parse_lat_lng` (``"lat,lng"`` text → pair or ``None``) and :func:`distance_miles`.

The backend is any geopy geocoder, chosen with ``settings.HANDOFF_GEOCODER``::

    HANDOFF_GEOCODER = {
        "BACKEND": "geopy.geocoders.Nominatim",
        "OPTIONS": {"user_agent": "handoff", "domain": "nominatim.example.org"},
        "CACHE_SECONDS": 60 * 60 * 24 * 30,
    }

Without the setting, :class:`OfflineZipGeocoder` is used: it resolves US ZIP codes to the
ZIP's centroid from the bundled ``zipcodes`` data and never touches the network.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import zipcodes
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import receiver
from django.test.signals import setting_changed
from django.utils.module_loading import import_string
from geopy.distance import geodesic
from geopy.exc import ConfigurationError, GeopyError
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location
from geopy.point import Point

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_CACHE_SECONDS",
    "GeocodeResult",
    "GeocodingError",
    "GeocodingUnavailable",
    "OfflineZipGeocoder",
    "distance_miles",
    "geocode",
    "get_geocoder",
    "parse_lat_lng",
]

logger = logging.getLogger(__name__)

DEFAULT_BACKEND = "directory.geocoding.OfflineZipGeocoder"
DEFAULT_CACHE_SECONDS = 60 * 60 * 24 * 30  # 30 days
CACHE_KEY_PREFIX = "handoff:geocode:v1:"

# A 5-digit ZIP, optionally ZIP+4, not embedded in a longer run of digits.
_ZIP_RE = re.compile(r"(?<![\d-])(\d{5})(?:-\d{4})?(?![\d-])")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_LAT_LNG_RE = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})\s*$")


class GeocodingError(Exception):
    """Base class for geocoding failures (a lookup with no match is not an error)."""


class GeocodingUnavailable(GeocodingError):
    """The geocoding service failed: timeout, outage, quota, rejected request, ...

    Raised by :func:`geocode`; the original geopy exception is the ``__cause__``.
    Such failures are never cached, so the next call tries the backend again.
    """


@dataclass(frozen=True)
class GeocodeResult:
    """A geocoded point.

    ``precision`` is ``"zip"`` for a ZIP-centroid match from the offline geocoder and
    ``"address"`` for other backends (unless the backend's raw result says otherwise).
    ``provider`` is the class name of the geocoder that produced the result.
    """

    latitude: float
    longitude: float
    label: str
    precision: str
    provider: str

    @property
    def point(self) -> tuple[float, float]:
        """``(latitude, longitude)``, ready for :func:`distance_miles`."""
        return (self.latitude, self.longitude)


# --------------------------------------------------------------------------------------
# Offline geocoder
# --------------------------------------------------------------------------------------


class OfflineZipGeocoder(Geocoder):
    """A geopy geocoder that resolves US ZIP codes from bundled data, without network access.

    It understands a bare ZIP (``"95501"``), ZIP+4 (``"95501-1234"``), a free-form address
    containing a ZIP (``"123 Fifth St, Eureka, CA 95501"``, resolved by the last ZIP-looking
    token) and a geopy structured query with a ``"postalcode"`` key. The point returned is
    the ZIP's centroid, so results are only as precise as the ZIP code.

    Limitation: a free-form address whose only 5-digit number is the house number
    (``"12345 Main St"``) is read as that ZIP; real addresses carry the ZIP last.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Accept geopy's common constructor options (``timeout``, ``user_agent``, ...).

        They are stored but unused: nothing is ever fetched.
        """
        super().__init__(**kwargs)

    def geocode(
        self,
        query: str | Mapping[str, Any],
        *,
        exactly_one: bool = True,
        timeout: Any = DEFAULT_SENTINEL,
        country_codes: str | Iterable[str] | None = None,
        **kwargs: Any,
    ) -> Location | list[Location] | None:
        """Return the ZIP-centroid ``Location`` for ``query``, or ``None`` when there is none.

        With ``exactly_one=False`` a one-element list is returned instead (``None`` when
        nothing matched, as geopy geocoders do). ``country_codes`` follows Nominatim: when
        given and it does not include ``"us"``, nothing matches. ``timeout`` and other
        keyword arguments are accepted for interface compatibility and ignored.
        """
        if country_codes is not None:
            codes = [country_codes] if isinstance(country_codes, str) else list(country_codes)
            if codes and "us" not in {str(code).strip().lower() for code in codes}:
                return None
        zip_code = self._zip_from_query(query)
        if zip_code is None:
            return None
        location = self._lookup(zip_code)
        if location is None:
            return None
        return location if exactly_one else [location]

    @staticmethod
    def _zip_from_query(query: str | Mapping[str, Any]) -> str | None:
        text = str(query.get("postalcode") or "") if isinstance(query, Mapping) else str(query)
        matches = _ZIP_RE.findall(text)
        return matches[-1] if matches else None

    @staticmethod
    def _lookup(zip_code: str) -> Location | None:
        try:
            rows = zipcodes.matching(zip_code)
        except (TypeError, ValueError):
            return None
        for row in rows:
            if not row.get("active"):
                continue
            try:
                latitude = float(row["lat"])
                longitude = float(row["long"])
            except (KeyError, TypeError, ValueError):
                continue
            if not _valid_point(latitude, longitude):
                continue
            city = str(row.get("city") or "")
            state = str(row.get("state") or "")
            code = str(row.get("zip_code") or zip_code)
            address = f"{city}, {state} {code}" if city and state else code
            raw = {
                "zip_code": code,
                "city": city,
                "state": state,
                "county": str(row.get("county") or ""),
                "timezone": str(row.get("timezone") or ""),
                "precision": "zip",
            }
            return Location(address, Point(latitude, longitude), raw)
        return None


# --------------------------------------------------------------------------------------
# Backend selection
# --------------------------------------------------------------------------------------

_geocoder_lock = threading.Lock()
_geocoder_cached: tuple[str, Geocoder] | None = None


def _geocoder_setting() -> dict[str, Any]:
    value = getattr(settings, "HANDOFF_GEOCODER", None)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            "HANDOFF_GEOCODER must be a dict like "
            '{"BACKEND": "geopy.geocoders.Nominatim", "OPTIONS": {...}}.'
        )
    return dict(value)


def _backend_path(config: Mapping[str, Any]) -> str:
    return str(config.get("BACKEND") or DEFAULT_BACKEND)


def _build_geocoder(config: Mapping[str, Any]) -> Geocoder:
    path = _backend_path(config)
    options = config.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ImproperlyConfigured("HANDOFF_GEOCODER['OPTIONS'] must be a dict.")
    try:
        backend = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"HANDOFF_GEOCODER['BACKEND'] {path!r} could not be imported: {exc}"
        ) from exc
    if not (isinstance(backend, type) and issubclass(backend, Geocoder)):
        raise ImproperlyConfigured(
            f"HANDOFF_GEOCODER['BACKEND'] {path!r} is not a geopy geocoder class "
            "(a subclass of geopy.geocoders.base.Geocoder)."
        )
    try:
        instance: Geocoder = backend(**options)
    except (TypeError, ConfigurationError) as exc:
        raise ImproperlyConfigured(
            f"HANDOFF_GEOCODER['OPTIONS'] are not valid for {path!r}: {exc}"
        ) from exc
    return instance


def get_geocoder() -> Geocoder:
    """Return the configured geopy geocoder (built once per value of the setting).

    Built from ``settings.HANDOFF_GEOCODER["BACKEND"]`` (a dotted path to a geopy
    ``Geocoder`` subclass, default :class:`OfflineZipGeocoder`) with
    ``HANDOFF_GEOCODER["OPTIONS"]`` as constructor keyword arguments.

    Raises ``ImproperlyConfigured`` if the backend cannot be imported, is not a geopy
    geocoder, or rejects its options.
    """
    global _geocoder_cached
    config = _geocoder_setting()
    key = repr(sorted(config.items()))
    with _geocoder_lock:
        if _geocoder_cached is not None and _geocoder_cached[0] == key:
            return _geocoder_cached[1]
    instance = _build_geocoder(config)
    with _geocoder_lock:
        _geocoder_cached = (key, instance)
    return instance


@receiver(setting_changed)
def _reset_geocoder(*, setting: str, **kwargs: Any) -> None:
    """Drop the cached geocoder when tests override ``HANDOFF_GEOCODER``."""
    global _geocoder_cached
    if setting == "HANDOFF_GEOCODER":
        with _geocoder_lock:
            _geocoder_cached = None


# --------------------------------------------------------------------------------------
# The app-facing API
# --------------------------------------------------------------------------------------


def _valid_point(latitude: float, longitude: float) -> bool:
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90.0 <= latitude <= 90.0
        and -180.0 <= longitude <= 180.0
    )


def _cache_key(backend: str, query: str, country: str) -> str:
    # Hash only: the query can be a person's address and must not appear in cache keys.
    payload = json.dumps([backend, query.casefold(), country], separators=(",", ":"))
    return CACHE_KEY_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _accepts_country_codes(geocoder: Geocoder) -> bool:
    try:
        parameters = inspect.signature(geocoder.geocode).parameters
    except (TypeError, ValueError):
        return False
    parameter = parameters.get("country_codes")
    return parameter is not None and parameter.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


def _to_result(location: Any, provider: str) -> GeocodeResult | None:
    """Turn a geopy ``Location`` (or list of them) into a result; ``None`` if unusable."""
    if isinstance(location, list | tuple):
        location = location[0] if location else None
    if location is None:
        return None
    try:
        latitude = float(location.latitude)
        longitude = float(location.longitude)
    except (AttributeError, TypeError, ValueError):
        return None
    if not _valid_point(latitude, longitude) or (latitude == 0.0 and longitude == 0.0):
        return None
    raw = getattr(location, "raw", None)
    precision = raw.get("precision") if isinstance(raw, Mapping) else None
    label = getattr(location, "address", None)
    return GeocodeResult(
        latitude=latitude,
        longitude=longitude,
        label=str(label) if label else "",
        precision=precision if isinstance(precision, str) and precision else "address",
        provider=provider,
    )


def geocode(query: str, *, country: str = "US") -> GeocodeResult | None:
    """Geocode free text (an address, a ZIP, a place) with the configured backend.

    Returns a :class:`GeocodeResult`, or ``None`` when the query is blank or nothing usable
    matched (no result, or coordinates out of range or exactly ``(0, 0)``). Results,
    including "no match", are cached in the Django cache for
    ``HANDOFF_GEOCODER["CACHE_SECONDS"]`` (default 30 days) under a hashed key.

    ``country`` (ISO 3166-1 alpha-2) is passed to the backend as ``country_codes`` when its
    ``geocode`` accepts that argument (Nominatim and :class:`OfflineZipGeocoder` do).

    Raises :class:`GeocodingUnavailable` when the service fails (not cached), and
    ``ImproperlyConfigured`` for a bad ``HANDOFF_GEOCODER`` setting.
    """
    normalized = " ".join(str(query or "").split())
    if not normalized:
        return None
    country_code = (country or "").strip().upper()
    config = _geocoder_setting()
    backend = _backend_path(config)
    key = _cache_key(backend, normalized, country_code)

    cached = cache.get(key)
    if isinstance(cached, dict) and "result" in cached:
        data = cached["result"]
        if data is None:
            return None
        try:
            return GeocodeResult(**data)
        except TypeError:
            pass  # Stale or foreign entry: geocode again and overwrite it.

    geocoder = get_geocoder()
    provider = type(geocoder).__name__
    kwargs: dict[str, Any] = {"exactly_one": True}
    if country_code and _accepts_country_codes(geocoder):
        kwargs["country_codes"] = country_code.lower()
    try:
        location = geocoder.geocode(normalized, **kwargs)
    except GeopyError as exc:
        # Log the exception type only: geopy messages can contain the request URL (the query).
        logger.warning("Geocoding with %s failed: %s", provider, type(exc).__name__)
        raise GeocodingUnavailable(
            f"Geocoding service {provider} is unavailable ({type(exc).__name__})."
        ) from exc

    result = _to_result(location, provider)
    timeout = config.get("CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    cache.set(key, {"result": asdict(result) if result is not None else None}, timeout)
    return result


def parse_lat_lng(text: str) -> tuple[float, float] | None:
    """Parse ``"40.80,-124.16"`` (spaces allowed) into ``(latitude, longitude)``.

    Returns ``None`` if ``text`` is not a pair of decimal numbers or the numbers are out of
    range (latitude -90..90, longitude -180..180).
    """
    match = _LAT_LNG_RE.match(text)
    if match is None:
        return None
    latitude, longitude = float(match.group(1)), float(match.group(2))
    if not _valid_point(latitude, longitude):
        return None
    return (latitude, longitude)


def distance_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance in statute miles between two ``(latitude, longitude)`` points.

    Raises ``ValueError`` for coordinates out of range.
    """
    # geodesic (Karney's algorithm on the WGS-84 ellipsoid) rather than great_circle:
    # great_circle assumes a sphere and can be off by ~0.5%; geodesic is accurate to
    # millimetres and fast enough for ranking a directory's worth of results.
    return float(geodesic(a, b).miles)
