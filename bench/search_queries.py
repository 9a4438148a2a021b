"""The seeded mix of realistic directory searches bench.search_directory runs: a need in words,
a ZIP centroid and a radius, and filters."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.query import SearchQuery

PAGE_SIZE = 20
# A Wednesday, 10:30 in California: most weekday services are open, overnight shelters are not.
FIXED_NOW = datetime(2025, 6, 11, 17, 30, tzinfo=UTC)
RADII = (5.0, 10.0, 10.0, 15.0, 25.0)
AGES = (8, 16, 30, 45, 70)
# (what people type, categories a person looking for it would tick). Words the generator writes
# into service names, descriptions and agency names (directly or through search.text.SYNONYMS),
# a few rarer needs, and two misspellings (the database backend corrects them).
NEEDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("food pantry", ("food-insecurity",)),
    ("food bank", ("food-insecurity",)),
    ("groceries", ("food-insecurity", "material-hardship")),
    ("meals", ("food-insecurity", "social-connection")),
    ("hot meals for seniors", ("food-insecurity",)),
    ("calfresh", ("food-insecurity", "financial-insecurity")),
    ("rent help", ("housing-instability",)),
    ("eviction", ("housing-instability",)),
    ("security deposit", ("housing-instability",)),
    ("shelter", ("homelessness",)),
    ("homeless", ("homelessness",)),
    ("family shelter", ("homelessness",)),
    ("showers", ("homelessness",)),
    ("bus pass", ("transportation-insecurity",)),
    ("medical rides", ("transportation-insecurity",)),
    ("utility assistance", ("utility-insecurity",)),
    ("water bill", ("utility-insecurity",)),
    ("tax preparation", ("financial-insecurity",)),
    ("emergency cash", ("financial-insecurity",)),
    ("clothing", ("material-hardship",)),
    ("diapers", ("material-hardship",)),
    ("furniture", ("material-hardship",)),
    ("domestic violence", ("intimate-partner-violence",)),
    ("legal aid", ("housing-instability", "elder-abuse", "incarceration-status")),
    ("job training", ("employment-status",)),
    ("resume help", ("employment-status",)),
    ("ged classes", ("educational-attainment",)),
    ("esl classes", ("educational-attainment", "language-access")),
    ("veterans benefits", ("veteran-status",)),
    ("counseling", ("stress",)),
    ("support groups", ("stress", "social-connection")),
    ("medi-cal", ("health-insurance-coverage-status",)),
    ("prescription help", ("medical-cost-burden",)),
    ("computer classes", ("digital-literacy", "digital-access")),
    ("internet", ("digital-access",)),
    ("expungement", ("incarceration-status",)),
    ("case management", ("sdoh-category-unspecified",)),
    ("child care", ("educational-attainment",)),
    ("food pantyr", ("food-insecurity",)),
    ("rnet help", ("housing-instability",)),
)
LANGUAGE_CHOICES = (("es", 60), ("zh", 10), ("vi", 10), ("tl", 8), ("ko", 6), ("hmn", 6))


def query_mix(count: int, seed: int, zips_in_use: list[str]) -> list[SearchQuery]:
    """``count`` queries, the same for the same seed and data."""
    from bench.hsds_generator import load_zips
    from search.query import Near, SearchQuery

    centroids = {z.code: (z.lat, z.lng) for z in load_zips("CA")}
    rng = random.Random(seed)  # noqa: S311 - reproducible on purpose
    codes, weights = zip(*LANGUAGE_CHOICES, strict=True)
    queries = []
    for _ in range(count):
        text, categories = rng.choice(NEEDS)
        code = rng.choice(zips_in_use)
        lat, lng = centroids[code]
        category = rng.random() < 0.5
        language = rng.random() < 0.3
        free = rng.random() < 0.3
        accepting = rng.random() < 0.2
        open_now = rng.random() < 0.3
        age = rng.random() < 0.2
        queries.append(
            SearchQuery(
                text=text,
                near=Near(latitude=lat, longitude=lng, label=code),
                radius_miles=rng.choice(RADII),
                categories=(rng.choice(categories),) if category else (),
                languages=(rng.choices(codes, weights)[0],) if language else (),
                free_only=free,
                accepting_only=accepting,
                open_now=open_now,
                open_at=FIXED_NOW if open_now else None,
                client_age=rng.choice(AGES) if age else None,
                page_size=PAGE_SIZE,
            )
        )
    return queries


def describe_mix(queries: list[SearchQuery]) -> str:
    n = len(queries)
    parts = {
        "category": sum(bool(q.categories) for q in queries),
        "language": sum(bool(q.languages) for q in queries),
        "free": sum(q.free_only for q in queries),
        "accepting": sum(q.accepting_only for q in queries),
        "open now": sum(q.open_now for q in queries),
        "age": sum(q.client_age is not None for q in queries),
    }
    radii = Counter(q.radius_miles for q in queries)
    return (
        f"{n} queries over {len({q.text for q in queries})} needs; filters: "
        + ", ".join(f"{name} {k / n:.0%}" for name, k in parts.items())
        + "; radius "
        + ", ".join(f"{r:g} mi x{k}" for r, k in sorted(radii.items()))
    )
