"""Network admins register the systems (EHRs) of their network in the Wagtail admin: a system
gets its own account acting for one organization, and only that network's admins see it."""

from __future__ import annotations

import json

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from network.models import ApiClient, Membership, Role
from tests.referrals.factories import Loop
from tests.referrals.fhir.support import key_pair

pytestmark = pytest.mark.django_db


def _form(loop: Loop, **changes: str) -> dict[str, str]:
    _private, public = key_pair("ES384")
    data = {
        "network": str(loop.tenant.network.pk),
        "organization": str(loop.clinic.pk),
        "name": "Epic at the clinic",
        "role": "clinic_staff",
        "jwks": json.dumps({"keys": [{**public, "kid": "epic-1"}]}),
        "scopes": "system/Task.cruds system/Patient.rs",
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_a_network_admin_registers_a_system(client: HttpClient, loop: Loop) -> None:
    client.force_login(loop.admin)
    answer = client.post(reverse("wagtailsnippets_network_apiclient:add"), _form(loop))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    system = ApiClient.objects.get()
    assert system.organization == loop.clinic
    assert system.scopes == ["system/Patient.rs", "system/Task.cruds"]
    # Its own account, no password, a member of the clinic in the role chosen.
    assert not system.user.has_usable_password()
    assert Membership.objects.get(user=system.user).role == Role.CLINIC_STAFF
    inspect = client.get(reverse("wagtailsnippets_network_apiclient:inspect", args=[system.pk]))
    assert system.client_id in inspect.content.decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"jwks": json.dumps({"keys": []})}, "JSON Web Key Set"),
        ({"scopes": "user/Task.rs"}, "Not a system scope"),
        ({"role": "agency_staff"}, "cannot have a system"),
    ],
)
def test_bad_keys_scopes_or_role_are_refused(
    client: HttpClient, loop: Loop, change: dict[str, str], message: str
) -> None:
    client.force_login(loop.admin)
    answer = client.post(reverse("wagtailsnippets_network_apiclient:add"), _form(loop, **change))
    assert answer.status_code == 200
    assert message in answer.content.decode()
    assert not ApiClient.objects.exists()


def test_a_private_key_is_refused(client: HttpClient, loop: Loop) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    private = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1())))
    client.force_login(loop.admin)
    answer = client.post(
        reverse("wagtailsnippets_network_apiclient:add"),
        _form(loop, jwks=json.dumps({"keys": [{**private, "kid": "oops"}]})),
    )
    assert "private key" in answer.content.decode()
    assert not ApiClient.objects.exists()


def test_other_roles_and_networks_cannot_register_or_see_systems(
    client: HttpClient, loop: Loop, other_loop: Loop
) -> None:
    client.force_login(other_loop.admin)
    answer = client.post(reverse("wagtailsnippets_network_apiclient:add"), _form(loop))
    assert answer.status_code == 200  # the form refuses a network it does not administer
    assert not ApiClient.objects.exists()
    client.force_login(loop.admin)
    client.post(reverse("wagtailsnippets_network_apiclient:add"), _form(loop))
    system = ApiClient.objects.get()
    client = HttpClient()
    client.force_login(other_loop.admin)
    for view in ("inspect", "edit"):
        url = reverse(f"wagtailsnippets_network_apiclient:{view}", args=[system.pk])
        assert client.get(url).status_code == 404
    listing = client.get(reverse("wagtailsnippets_network_apiclient:list")).content.decode()
    assert "Epic at the clinic" not in listing
    for person in (loop.clinic_staff, loop.agency_staff):
        client.force_login(person)
        assert client.get(reverse("wagtailsnippets_network_apiclient:add")).status_code in {
            302,
            403,
        }
