"""The example EHR (``python -m demo.fhir_client``) against this project's live server: signed
in with the credentials the demo seeding writes, it creates the patient, the screening, the
consent and the referral, finds the same patient again on a rerun, and reads the referral's
Task and Procedure once the agency has completed it."""

from __future__ import annotations

import json
import stat
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from wagtail.models import Site

from consent.models import Consent
from demo import fhir_client
from demo.seeding import (
    DEMO_EHR_NAME,
    demo_ehr_read,
    demo_ehr_seed,
    demo_ehr_write,
)
from network.models import ApiClient
from referrals.models import (
    Client,
    FhirSubscription,
    Referral,
    ReferralStatus,
    Screening,
    ServiceRequestRecord,
)
from referrals.services.transitions import referral_transition
from tests.network.factories import tenant_make
from tests.referrals.factories import Loop, loop_make

MRN = fhir_client.PatientDetails.mrn


def _served(loop: Loop, live_server: Any) -> str:
    """The loop's network at the live server's address (Wagtail sends an unknown host to the
    default site: the live server's host and port must be this network's site)."""
    port = urlsplit(live_server.url).port
    Site.objects.filter(root_page=loop.tenant.network.root_page).update(
        hostname="localhost", port=port
    )
    return f"http://localhost:{port}"


def _registered(loop: Loop, site: str, path: Path) -> Path:
    ehr = demo_ehr_seed(
        network=loop.tenant.network,
        clinic=loop.clinic,
        site=site,
        current=demo_ehr_read(path),
        agency=loop.food_agency,
        agency_login=loop.agency_staff.username,
    )
    demo_ehr_write(path, ehr.credentials)
    return path


def _run(*args: str) -> str:
    out = StringIO()
    code = fhir_client.run(list(args), out=out)
    assert code == 0, out.getvalue()
    return out.getvalue()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_example_client_sends_a_referral_and_follows_it(
    live_server, tmp_path, settings
) -> None:
    loop = loop_make(tenant_make("Demo"))
    path = _registered(loop, _served(loop, live_server), tmp_path / "demo-ehr.json")
    # Demo-only credentials, readable by their owner only; the database keeps the public key.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    system = ApiClient.objects.get(name=DEMO_EHR_NAME)
    assert "d" not in system.jwks["keys"][0]
    assert json.loads(path.read_text())["client_id"] == system.client_id

    said = _run("--credentials", str(path))

    patient = Client.objects.get(organization=loop.clinic, external_id=MRN)
    screening = Screening.objects.get(client=patient)
    assert screening.positive_categories == ["food-insecurity"]
    consent = Consent.objects.get(client=patient)
    assert list(consent.recipients.all()) == [loop.food_agency]
    assert consent.categories == ["food-insecurity"]
    referral = Referral.objects.get(client=patient)
    assert (referral.sender, referral.agency, referral.service_id) == (
        loop.clinic,
        loop.food_agency,
        loop.food.pk,
    )
    assert referral.status == ReferralStatus.REQUESTED
    assert referral.consent == consent
    assert referral.sent_by == system.user
    assert ServiceRequestRecord.objects.get(referral=referral).client == patient
    assert f"Task/{referral.pk} (status requested" in said
    assert f"--follow {referral.pk}" in said
    assert loop.agency_staff.username in said

    # A rerun finds the same patient (If-None-Exist on the MRN) and sends another referral.
    again = _run("--credentials", str(path))
    assert "found (If-None-Exist on the MRN)" in again
    assert Client.objects.filter(organization=loop.clinic, external_id=MRN).count() == 1
    assert Referral.objects.filter(client=patient).count() == 2

    # The agency accepts and completes the first; following it shows the Procedure.
    for to, extra in (("accepted", {}), ("completed", {"outcome": "service-provided"})):
        current = Referral.objects.get(pk=referral.pk)
        referral = referral_transition(
            referral=current,
            to=to,
            by=loop.agency_staff,
            organization=loop.food_agency,
            version=current.version,
            **extra,
        )
    followed = _run("--credentials", str(path), "--follow", str(referral.pk))
    assert f"Task/{referral.pk} is completed (version 3)" in followed
    assert f"Procedure/{referral.pk}: completed, outcome “Service provided”" in followed

    # --subscribe: refused where http:// endpoints on this machine are not allowed (as in
    # production), it polls; allowed (as `make demo` does), the server's handshake reaches the
    # client's endpoint, and the Subscription is deleted when the client is done.
    refused = _run("--credentials", str(path), "--follow", str(referral.pk), "--subscribe")
    assert "Polling instead." in refused
    settings.FHIR_SUBSCRIPTION_ALLOW_HTTP = True
    settings.FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES = True
    heard = _run("--credentials", str(path), "--follow", str(referral.pk), "--subscribe")
    assert "to the Task topic (Task?requester=Organization/" in heard
    assert "handshake arrived" in heard
    assert f"Procedure/{referral.pk}: completed" in heard
    assert "deleted." in heard
    assert not FhirSubscription.objects.exists()


@pytest.mark.django_db
def test_the_demo_ehr_keeps_its_key_while_the_file_holds_it(tmp_path) -> None:
    loop = loop_make(tenant_make("Keys"))
    site = "http://127.0.0.1:8000"
    path = _registered(loop, site, tmp_path / "ehr.json")
    first = demo_ehr_read(path)
    assert first is not None
    kept = demo_ehr_seed(network=loop.tenant.network, clinic=loop.clinic, site=site, current=first)
    # Without the agency hint the credentials differ, but the key is the same.
    assert kept.credentials["private_key_pem"] == first["private_key_pem"]
    assert ApiClient.objects.filter(name=DEMO_EHR_NAME).count() == 1
    # The file gone (or from another database): a new key pair replaces the registered one.
    path.unlink()
    network = loop.tenant.network
    rekeyed = demo_ehr_seed(network=network, clinic=loop.clinic, site=site, current=None)
    assert rekeyed.changed
    assert rekeyed.credentials["kid"] != first["kid"]
    assert rekeyed.credentials["client_id"] == first["client_id"]
    assert [k["kid"] for k in ApiClient.objects.get(name=DEMO_EHR_NAME).jwks["keys"]] == [
        rekeyed.credentials["kid"]
    ]


def test_without_credentials_the_client_says_to_seed_the_demo(tmp_path) -> None:
    out = StringIO()
    assert fhir_client.run(["--credentials", str(tmp_path / "none.json")], out=out) == 1
    assert "make demo" in out.getvalue()
