"""Load the demo: Humboldt County and Del Norte County networks, their organizations and one login
per role in each, and the first network's demo EHR (its credentials in var/demo-ehr.json, for
``python -m demo.fhir_client``). Idempotent: running it again changes nothing that is already
there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from demo.networks import NETWORKS, DemoDataError, demo_network, directory_dataset
from demo.seeding import (
    DemoEhr,
    DemoSeedError,
    Login,
    current_code,
    demo_ehr_path,
    demo_ehr_read,
    demo_ehr_write,
    demo_network_ehr,
    network_seed,
    operator_seed,
    remove_wagtail_placeholder_site,
    two_factor_enrol,
)
from directory.hsds.import_writes import ImportReport
from directory.hsds.reading import ReadError
from directory.hsds.records import InvalidImport
from network import two_factor

DEMO_PASSWORD_DEFAULT = "handoff-demo"  # noqa: S105 — demo-only, refused outside dev and test


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=8000, help="Port the demo is served on (the sites' port)."
        )
        parser.add_argument(
            "--ehr-credentials",
            type=Path,
            default=None,
            help=(
                "Where to write the demo EHR's credentials for python -m demo.fhir_client "
                "(default: demo-ehr.json in the var directory, HANDOFF_VAR_DIR)."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.HANDOFF_ALLOW_DEMO_DATA:
            raise CommandError("Demo data is disabled in these settings (HANDOFF_ALLOW_DEMO_DATA).")
        password = os.environ.get("HANDOFF_DEMO_PASSWORD", DEMO_PASSWORD_DEFAULT)
        logins: list[Login] = []
        reports: list[tuple[str, ImportReport]] = []
        ehr_path: Path = options["ehr_credentials"] or demo_ehr_path(Path(settings.VAR_DIR))
        ehr: DemoEhr | None = None
        try:
            with transaction.atomic():
                remove_wagtail_placeholder_site()
                for slug in NETWORKS:
                    dataset = directory_dataset(slug)
                    spec = demo_network(slug, dataset)
                    network, report, people = network_seed(
                        spec, dataset, port=options["port"], password=password
                    )
                    reports.append((network.name, report))
                    logins += people
                    if ehr is None:
                        # The first network's clinic gets the demo EHR (the FHIR API's client).
                        ehr = demo_network_ehr(
                            network, spec, port=options["port"], current=demo_ehr_read(ehr_path)
                        )
                logins.append(operator_seed(password))
                demo_authenticator = two_factor_enrol()
        except InvalidImport as exc:
            for problem in exc.problems:
                self.stderr.write(f"error: {problem}")
            raise CommandError(f"The demo directory has {len(exc.problems)} problem(s).") from exc
        except (ReadError, DemoDataError, DemoSeedError) as exc:
            raise CommandError(str(exc)) from exc
        if ehr is not None and ehr.changed:
            # Written once the database has the client: its private key lives only in this file.
            demo_ehr_write(ehr_path, ehr.credentials)
        for name, report in reports:
            self.stdout.write(f"{name}: {report.summary() if report.changed else 'up to date'}")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {password})"))
        for login in logins:
            self.stdout.write(f"  {login.username:<24} {login.role:<16} {login.where}")
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS("Two-factor sign-in (network, clinic and agency admins, operator)")
        )
        self.stdout.write(
            "  After the password, type the code of an authenticator app holding this key:\n"
            f"    {two_factor.authenticator_secret(device=demo_authenticator)}\n"
            f"  or this code, valid for about 30 seconds: {current_code(demo_authenticator)}\n"
            "  (codes change every 30 seconds; any TOTP app or tool takes the key, e.g.\n"
            "  oathtool --totp --base32 'KEY')"
        )
        if ehr is not None:
            # The client finds the file by itself where this command writes it by default.
            found = options["ehr_credentials"] is None and not os.environ.get("HANDOFF_VAR_DIR")
            self._ehr_print(ehr, ehr_path, found)

    def _ehr_print(self, ehr: DemoEhr, path: Path, found: bool) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"FHIR API for EHRs: {ehr.credentials['fhir_base']}"))
        self.stdout.write(
            f"  {ehr.client.name} signs in for {ehr.client.organization} (client id "
            f"{ehr.client.client_id}).\n"
            f"  Its demo-only credentials and private key: {path} (0600; never commit them).\n"
            "  With the server running, send a referral through the API:\n"
            "    .venv/bin/python -m demo.fhir_client" + ("" if found else f" --credentials {path}")
        )
