"""The demo loads realistic networks, logs in one user per role, and is idempotent."""

from __future__ import annotations

import base64
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django_otp.oath import totp
from wagtail.models import Page

from consent.models import AgreementStatus, DataSharingAgreement
from demo.networks import demo_network, directory_dataset
from demo.seeding import DEMO_TOTP_KEY
from network.models import Membership, Network, Organization, Role, User
from network.two_factor import TWO_FACTOR_ROLES
from referrals.models import Client, Referral


def _snapshot() -> tuple:
    return (
        list(Organization.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values_list("user_id", "organization_id", "role")),
        User.objects.count(),
        Page.objects.count(),
        Network.objects.count(),
        DataSharingAgreement.objects.count(),
        Client.objects.count(),
        Referral.objects.count(),
    )


@pytest.mark.django_db
def test_seed_demo_builds_both_networks_and_is_idempotent(client):
    call_command("seed_demo", stdout=StringIO())
    humboldt_net = Network.objects.get(slug="humboldt")
    orgs = Organization.objects.filter(network=humboldt_net)
    assert orgs.filter(kind="clinic").count() == 3
    assert orgs.filter(kind__in=["agency", "both"]).count() >= 40
    assert len(directory_dataset("humboldt").rows("services")) >= 150
    assert Organization.objects.filter(network__slug="del-norte").count() == 1 + len(
        demo_network("del-norte").agencies
    )
    assert humboldt_net.site.is_default_site
    # Every agency can take electronic referrals, and the loop has a demo referral.
    agencies = orgs.filter(kind__in=["agency", "both"])
    assert (
        DataSharingAgreement.objects.filter(
            agency__in=agencies, status=AgreementStatus.ACTIVE
        ).count()
        == agencies.count()
    )
    assert (
        Referral.objects.filter(network=humboldt_net, idempotency_key="demo-1").get().status
        == "requested"
    )

    first = _snapshot()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert _snapshot() == first
    # The printed code is the demo authenticator's, whose key is printed too.
    secret = out.getvalue().split("holding this key:")[1].split()[:8]
    key = base64.b32decode("".join(secret))
    assert key.hex() == DEMO_TOTP_KEY
    code = f"{totp(key):06d}"

    # One login per role in each network (through the sign-in form, admins with the demo's
    # authenticator code), each landing in its own network.
    for prefix, network in (("hum", "humboldt"), ("dn", "del-norte")):
        for role in Role:
            username = f"{prefix}-{role.value.replace('_', '-')}"
            response = client.post(
                reverse("login"), {"username": username, "password": "handoff-demo"}
            )
            assert response.status_code == 302, username
            if role in TWO_FACTOR_ROLES:
                assert client.get(reverse("network:workspace")).status_code == 302
                verified = client.post(reverse("two_factor:verify"), {"code": code})
                assert verified.status_code == 302, username
            response = client.get(reverse("network:workspace"))
            assert response.status_code == 200
            assert response.context["current_network"].slug == network
            assert response.context["current_membership"].role == role
            client.logout()


@pytest.mark.django_db
def test_seed_demo_home_pages_answer_on_their_hosts(client):
    call_command("seed_demo", "--port", "8000", stdout=StringIO())
    humboldt_home = client.get("/", HTTP_HOST="127.0.0.1:8000")
    assert "Humboldt Community Resource Network" in humboldt_home.content.decode()
    del_norte_home = client.get("/", HTTP_HOST="delnorte.localhost:8000")
    assert "Del Norte Community Resource Network" in del_norte_home.content.decode()


@pytest.mark.django_db
def test_seed_demo_refused_where_demo_data_is_disabled(settings):
    settings.HANDOFF_ALLOW_DEMO_DATA = False
    with pytest.raises(CommandError, match="disabled"):
        call_command("seed_demo")
    assert not Network.objects.exists()
