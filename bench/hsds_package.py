"""A synthetic but realistic HSDS 3.0 Tabular Data Package, for benchmarking the importer.

``write_package(folder, services=20_000)`` writes one CSV per HSDS table plus
``datapackage.json``: agencies spread over California (real ZIP codes, cities and counties from
the ``zipcodes`` package, coordinates near each ZIP's centroid), one or two locations each, and
services with SDOH categories, fee and referral attributes, a service type, languages, weekly
hours (some overnight, some at weekends), required documents, cost options and ZIP service areas.

Rows are streamed to the CSV files as they are made, so memory stays flat however many services
are asked for. The same seed gives the same rows and the same ids (uuid5 over Handoff's HSDS
namespace), so writing a package twice and importing both is an idempotent re-import.

    python -m bench.hsds_package OUT_DIR --services 20000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.hsds_generator import Generator, load_zips
from bench.hsds_tables import Tables, descriptor


def write_package(
    folder: Path,
    *,
    services: int = 20_000,
    services_per_agency: int = 5,
    seed: int = 1,
    two_location_share: float = 0.5,
    both_locations_share: float = 0.3,
) -> dict[str, int]:
    """Write the package into ``folder`` (created if missing); return rows written per table.

    ``services // services_per_agency`` agencies get ``services_per_agency`` services each; the
    last one also takes the remainder, so exactly ``services`` services are written.
    ``two_location_share`` of the agencies have a second location, and ``both_locations_share``
    of their services are offered at both: service_at_location rows per service average
    ``1 + two_location_share * both_locations_share`` (1.15 by default).
    """
    if services < 1 or services_per_agency < 1:
        raise ValueError("services and services_per_agency must be at least 1")
    if not (0 <= two_location_share <= 1 and 0 <= both_locations_share <= 1):
        raise ValueError("two_location_share and both_locations_share must be from 0 to 1")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    zips = load_zips("CA")
    agencies = max(1, services // services_per_agency)
    with contextlib.ExitStack() as stack:
        tables = Tables(folder, stack)
        generator = Generator(
            tables,
            seed=seed,
            zips=zips,
            rng=rng,
            two_location_share=two_location_share,
            both_locations_share=both_locations_share,
        )
        generator.taxonomies()
        for a in range(agencies):
            count = services_per_agency
            if a == agencies - 1:
                count = services - services_per_agency * (agencies - 1)
            generator.agency(a, count)
        counts = dict(tables.counts)
    (folder / "datapackage.json").write_text(
        json.dumps(descriptor(seed, services), indent=2) + "\n", encoding="utf-8"
    )
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path, help="folder to write the package into")
    parser.add_argument("--services", type=int, default=20_000)
    parser.add_argument("--services-per-agency", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--two-location-share", type=float, default=0.5, help="agencies with a second location"
    )
    parser.add_argument(
        "--both-locations-share",
        type=float,
        default=0.3,
        help="services of such agencies offered at both locations",
    )
    args = parser.parse_args(argv)
    counts = write_package(
        args.out_dir,
        services=args.services,
        services_per_agency=args.services_per_agency,
        seed=args.seed,
        two_location_share=args.two_location_share,
        both_locations_share=args.both_locations_share,
    )
    width = max(len(table) for table in counts)
    for table, count in counts.items():
        sys.stdout.write(f"{table:<{width}}  {count:>9}\n")
    sys.stdout.write(f"written to {args.out_dir}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
