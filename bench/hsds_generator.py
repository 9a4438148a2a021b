"""The rows of the synthetic HSDS package: agencies spread over California's ZIP codes, their
locations and services, made from the word lists in bench.hsds_words with a seeded random
generator."""

from __future__ import annotations

import random
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import zipcodes

from bench.hsds_tables import Tables
from bench.hsds_words import (
    ACCESSIBILITY,
    ADDRESS_2,
    AGENCY_NOUNS,
    AGENCY_PREFIXES,
    ALL_DAY,
    APPLICATION,
    AUDIENCES,
    CATEGORY_WEIGHTS,
    CLOSINGS,
    DOCUMENTS,
    ELIGIBILITY,
    LANGUAGES,
    LAT_RANGE,
    LNG_RANGE,
    OVERNIGHT_CATEGORIES,
    OVERNIGHT_HOURS,
    RELATED,
    SERVICE_TYPE_GROUPS,
    SERVICE_TYPE_TAXONOMY,
    SERVICE_TYPE_TAXONOMY_ID,
    SERVICES_BY_CATEGORY,
    STREET_SUFFIXES,
    STREETS,
    TRANSPORTATION,
    VERBS,
    WAIT_TIMES,
    WEEKDAY_HOURS,
    WEEKEND_HOURS,
)
from cms.categories import SDOH_CATEGORIES
from directory.hsds.records import NAMESPACE, handoff_taxonomies, well_known_term_id


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _lower(name: str) -> str:
    """Lower-case ordinary words, keep names such as CalFresh, WIC or Medi-Cal."""
    return " ".join(w.lower() if w[1:].islower() or len(w) == 1 else w for w in name.split())


def service_type_term_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"bench:service-type:{_slug(name)}"))


def service_type_group_id(group: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"bench:service-type-group:{_slug(group)}"))


@dataclass(frozen=True)
class Zip:
    code: str
    city: str
    county: str
    lat: float
    lng: float
    area_code: str


def load_zips(state: str = "CA") -> list[Zip]:
    """The state's active, standard (street-delivery) ZIP codes with a centroid."""
    found = [
        Zip(
            code=z["zip_code"],
            city=z["city"],
            county=z["county"],
            lat=float(z["lat"]),
            lng=float(z["long"]),
            area_code=(z.get("area_codes") or ["707"])[0],
        )
        for z in zipcodes.filter_by(state=state)
        if z["active"] and z["zip_code_type"] == "STANDARD" and z["lat"] and z["long"]
    ]
    found.sort(key=lambda z: z.code)
    return found


class Generator:
    def __init__(
        self,
        tables: Tables,
        *,
        seed: int,
        zips: Sequence[Zip],
        rng: random.Random,
        two_location_share: float = 0.5,
        both_locations_share: float = 0.3,
    ) -> None:
        self.t = tables
        self.seed = seed
        self.two_location_share = two_location_share
        self.both_locations_share = both_locations_share
        self.rng = rng
        self.zips = zips
        self.by_county: dict[str, list[Zip]] = defaultdict(list)
        for z in zips:
            self.by_county[z.county].append(z)
        self.agency_names: set[str] = set()
        self.agency_nouns = list(AGENCY_NOUNS)
        self.categories = [code for code, _ in SDOH_CATEGORIES]
        self.category_weights = [CATEGORY_WEIGHTS[code] for code in self.categories]
        self.language_weights = [weight for _, _, weight in LANGUAGES]

    def id(self, *parts: object) -> str:
        return str(uuid.uuid5(NAMESPACE, ":".join(["bench", str(self.seed), *map(str, parts)])))

    # --- taxonomies -------------------------------------------------------------------------

    def taxonomies(self) -> None:
        taxonomies, terms = handoff_taxonomies()
        for row in taxonomies:
            self.t.add("taxonomies", **row)
        for row in terms:
            self.t.add("taxonomy_terms", **row, language="en")
        self.t.add(
            "taxonomies",
            id=SERVICE_TYPE_TAXONOMY_ID,
            name=SERVICE_TYPE_TAXONOMY,
            description="Kinds of community services, grouped by need",
            version="2025",
        )
        for group, categories in SERVICE_TYPE_GROUPS.items():
            group_id = service_type_group_id(group)
            self.t.add(
                "taxonomy_terms",
                id=group_id,
                code=_slug(group)[:64],
                name=group,
                description=group,
                taxonomy=SERVICE_TYPE_TAXONOMY,
                taxonomy_id=SERVICE_TYPE_TAXONOMY_ID,
                language="en",
            )
            for category in categories:
                for name, detail in SERVICES_BY_CATEGORY[category]:
                    self.t.add(
                        "taxonomy_terms",
                        id=service_type_term_id(name),
                        code=_slug(name)[:64],
                        name=name,
                        description=detail,
                        parent_id=group_id,
                        taxonomy=SERVICE_TYPE_TAXONOMY,
                        taxonomy_id=SERVICE_TYPE_TAXONOMY_ID,
                        language="en",
                    )

    # --- agencies ---------------------------------------------------------------------------

    def _near(self, z: Zip, spread: float = 0.012) -> tuple[str, str]:
        lat = min(max(z.lat + self.rng.gauss(0, spread), LAT_RANGE[0]), LAT_RANGE[1])
        lng = min(max(z.lng + self.rng.gauss(0, spread), LNG_RANGE[0]), LNG_RANGE[1])
        return f"{lat:.6f}", f"{lng:.6f}"

    def _phone(self, z: Zip) -> str:
        return f"({z.area_code}) 555-01{self.rng.randrange(100):02d}"

    def _street(self) -> str:
        number = self.rng.randint(10, 9899)
        return f"{number} {self.rng.choice(STREETS)} {self.rng.choice(STREET_SUFFIXES)}"

    def _agency_name(self, z: Zip, noun: str) -> str:
        rng = self.rng
        place = z.county.removesuffix(" County") if rng.random() < 0.3 else z.city
        name = f"{rng.choice(AGENCY_PREFIXES)}{place} {noun}"
        candidate, n = name, 2
        while candidate in self.agency_names:
            candidate = f"{name} ({z.code})" if n == 2 else f"{name} ({z.code}-{n})"
            n += 1
        self.agency_names.add(candidate)
        return candidate

    def agency(self, a: int, services: int) -> None:
        rng = self.rng
        home = rng.choice(self.zips)
        noun = rng.choice(self.agency_nouns)
        name = self._agency_name(home, noun)
        org_id = self.id("agency", a)
        domain = f"{_slug(name)[:40].strip('-')}.example.org"
        government = rng.random() < 0.1
        self.t.add(
            "organizations",
            id=org_id,
            name=name,
            alternate_name=(
                "".join(w[0] for w in name.split() if w[0].isupper()) if rng.random() < 0.3 else ""
            ),
            description=(
                f"{name} serves {home.county} from {home.city}. "
                + rng.choice(
                    (
                        "Founded by neighbors, it has grown into a trusted local nonprofit.",
                        "It works with clinics, schools and other agencies across the county.",
                        "Its staff and volunteers help thousands of residents each year.",
                    )
                )
            ),
            email=f"info@{domain}",
            website=f"https://{domain}",
            tax_status="Government" if government else "501(c)(3)",
            tax_id=f"{rng.randint(10, 99)}-{rng.randint(1_000_000, 9_999_999)}",
            year_incorporated=rng.randint(1905, 2022),
            legal_status="Government agency" if government else "Nonprofit corporation",
        )
        self.t.add(
            "phones",
            id=self.id("agency", a, "phone"),
            organization_id=org_id,
            number=self._phone(home),
            type="voice",
            description="Main line",
        )
        places = [home]
        if rng.random() < self.two_location_share:
            county = self.by_county[home.county]
            places.append(rng.choice(county) if len(county) > 1 else rng.choice(self.zips))
        locations: list[tuple[str, Zip]] = []
        for n, z in enumerate(places):
            location_id = self.id("agency", a, "location", n)
            locations.append((location_id, z))
            lat, lng = self._near(z)
            self.t.add(
                "locations",
                id=location_id,
                organization_id=org_id,
                location_type="physical",
                name="Main Office" if n == 0 else f"{z.city} Office",
                description="" if rng.random() < 0.6 else f"Serving {z.city} and nearby towns.",
                transportation=rng.choice(TRANSPORTATION) if rng.random() < 0.5 else "",
                latitude=lat,
                longitude=lng,
            )
            self.t.add(
                "addresses",
                id=self.id("agency", a, "location", n, "address"),
                location_id=location_id,
                address_1=self._street(),
                address_2=rng.choice(ADDRESS_2) if rng.random() < 0.25 else "",
                city=z.city,
                region=z.county,
                state_province="CA",
                postal_code=z.code,
                country="US",
                address_type="physical",
            )
            if rng.random() < 0.4:
                self.t.add(
                    "accessibility",
                    id=self.id("agency", a, "location", n, "access"),
                    location_id=location_id,
                    description=rng.choice(ACCESSIBILITY),
                )
            if n > 0 or rng.random() < 0.3:
                self.t.add(
                    "phones",
                    id=self.id("agency", a, "location", n, "phone"),
                    location_id=location_id,
                    number=self._phone(z),
                    type="voice" if rng.random() < 0.8 else "fax",
                )
        for s in range(services):
            self.service(a, s, org_id, name, domain, locations, AGENCY_NOUNS[noun])

    # --- services ---------------------------------------------------------------------------

    def service(
        self,
        a: int,
        s: int,
        org_id: str,
        agency: str,
        domain: str,
        locations: list[tuple[str, Zip]],
        focus: tuple[str, ...],
    ) -> None:
        rng = self.rng
        key = ("agency", a, "service", s)
        service_id = self.id(*key)
        home = locations[0][1]
        if focus and rng.random() < 0.75:
            primary = rng.choice(focus)
        else:
            primary = rng.choices(self.categories, self.category_weights)[0]
        base, detail = rng.choice(SERVICES_BY_CATEGORY[primary])
        audience, min_age, max_age = rng.choice(AUDIENCES)
        name = f"{base} {audience}".strip()
        closing = f" {rng.choice(CLOSINGS)}" if rng.random() < 0.6 else ""
        what = " ".join(filter(None, (_lower(base), audience.lower())))
        description = (
            f"{agency} {rng.choice(VERBS)} {what} in {home.city} and nearby communities. "
            f"{detail}{closing}"
        )
        fee = rng.choices(("free", "sliding-scale", "fee"), (60, 25, 15))[0]
        amount = rng.choice((10, 15, 20, 25, 35, 50))
        fees_description = {
            "free": "Free of charge.",
            "sliding-scale": "Sliding scale based on household income; no one is turned away.",
            "fee": f"${amount} per visit; payment plans available.",
        }[fee]
        status = rng.choices(("active", "temporarily closed", "inactive"), (96, 3, 1))[0]
        self.t.add(
            "services",
            id=service_id,
            organization_id=org_id,
            name=name,
            description=description,
            url=f"https://{domain}/services/{_slug(base)}" if rng.random() < 0.5 else "",
            email=f"{_slug(base).split('-')[0]}@{domain}" if rng.random() < 0.3 else "",
            status=status,
            interpretation_services=(
                "Phone interpretation in more than 200 languages." if rng.random() < 0.3 else ""
            ),
            application_process=rng.choice(APPLICATION),
            fees_description=fees_description,
            wait_time=rng.choice(WAIT_TIMES),
            eligibility_description=rng.choice(ELIGIBILITY).format(county=home.county),
            minimum_age=min_age,
            maximum_age=max_age,
            alert="Hours may change on holidays." if rng.random() < 0.02 else "",
        )
        if fee != "free":
            self.t.add(
                "cost_options",
                id=self.id(*key, "cost"),
                service_id=service_id,
                option="Sliding scale" if fee == "sliding-scale" else "Standard fee",
                currency="USD",
                amount=f"{amount}.00",
                amount_description=fees_description,
            )
        if rng.random() < 0.2:
            self.t.add(
                "phones",
                id=self.id(*key, "phone"),
                service_id=service_id,
                number=self._phone(home),
                extension=str(rng.randint(100, 499)) if rng.random() < 0.5 else "",
                type="voice",
                description="Intake line",
            )

        # Where: at one of the agency's locations, or at both when it has two.
        both = len(locations) > 1 and rng.random() < self.both_locations_share
        here = locations if both else [rng.choice(locations)]
        sal_ids = []
        for location_id, _ in here:
            sal_id = self.id(*key, "at", location_id)
            sal_ids.append(sal_id)
            self.t.add(
                "service_at_location",
                id=sal_id,
                service_id=service_id,
                location_id=location_id,
            )
        self._hours(key, service_id, primary, base, sal_ids)

        # Attributes: SDOH categories, fee type, referral method, service type.
        extra = rng.randint(0, 2)
        categories = [primary]
        for code in rng.sample(RELATED[primary], min(extra, len(RELATED[primary]))):
            categories.append(code)
        links = [("sdohcc", code) for code in categories]
        links.append(("fee", fee))
        links.append(("referral", rng.choices(("electronic", "contact-directly"), (60, 40))[0]))
        for taxonomy, code in links:
            self.t.add(
                "attributes",
                id=self.id(*key, "attr", taxonomy, code),
                link_id=service_id,
                link_type="",
                link_entity="service",
                taxonomy_term_id=str(well_known_term_id(taxonomy, code)),
            )
        if rng.random() < 0.7:
            self.t.add(
                "attributes",
                id=self.id(*key, "attr", "type"),
                link_id=service_id,
                link_entity="service",
                taxonomy_term_id=service_type_term_id(base),
            )

        # Languages: English, and up to two more.
        self.t.add(
            "languages",
            id=self.id(*key, "lang", "en"),
            service_id=service_id,
            name="English",
            code="en",
        )
        others: list[tuple[str, str, int]] = []
        for _ in range(rng.choices((0, 1, 2), (35, 45, 20))[0]):
            choice = rng.choices(LANGUAGES, self.language_weights)[0]
            if choice not in others:
                others.append(choice)
        for code, language, _ in others:
            self.t.add(
                "languages",
                id=self.id(*key, "lang", code),
                service_id=service_id,
                name=language,
                code=code,
            )

        for n, document in enumerate(rng.sample(DOCUMENTS, rng.randint(0, 3))):
            self.t.add(
                "required_documents",
                id=self.id(*key, "doc", n),
                service_id=service_id,
                document=document,
            )

        county = self.by_county[home.county]
        nearby = [home, *rng.sample(county, min(len(county), rng.randint(0, 4)))]
        seen: set[str] = set()
        for z in nearby:
            if z.code in seen:
                continue
            seen.add(z.code)
            self.t.add(
                "service_areas",
                id=self.id(*key, "area", z.code),
                service_id=service_id,
                name=z.code,
                description=f"{z.city}, {z.county}",
                extent_type="postal_code",
            )

    def _hours(
        self,
        key: tuple[object, ...],
        service_id: str,
        category: str,
        base: str,
        sal_ids: list[str],
    ) -> None:
        rng = self.rng
        if "Hotline" in base or "Crisis" in base:
            chosen = [ALL_DAY]
        elif category in OVERNIGHT_CATEGORIES and rng.random() < 0.6:
            chosen = [rng.choice(OVERNIGHT_HOURS)]
        else:
            chosen = [rng.choice(WEEKDAY_HOURS)]
        for _ in range(rng.choices((0, 1, 2), (50, 35, 15))[0]):
            pool = rng.choices((WEEKDAY_HOURS, WEEKEND_HOURS, OVERNIGHT_HOURS), (45, 45, 10))[0]
            option = rng.choice(pool)
            if option not in chosen:
                chosen.append(option)
        for n, (byday, opens, closes, note) in enumerate(chosen):
            # Mostly hours at one location; some services give hours for all their locations.
            at_location = rng.random() < 0.8
            self.t.add(
                "schedules",
                id=self.id(*key, "hours", n),
                service_id="" if at_location else service_id,
                service_at_location_id=rng.choice(sal_ids) if at_location else "",
                freq="WEEKLY",
                interval=1,
                byday=byday,
                opens_at=opens,
                closes_at=closes,
                description=note,
            )
