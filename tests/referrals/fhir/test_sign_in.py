"""SMART Backend Services sign-in: the token endpoint, its refusals, and bearer tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from network.models import ApiAccessToken
from tests.referrals.factories import Loop
from tests.referrals.fhir.support import FHIR, ehr_make, key_pair

pytestmark = pytest.mark.django_db


def test_discovery_names_the_token_endpoint(loop: Loop) -> None:
    host = loop.tenant.network.site.hostname
    answer = HttpClient().get(f"{FHIR}.well-known/smart-configuration", HTTP_HOST=host)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_endpoint"] == f"http://{host}{FHIR}auth/token"
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert set(body["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}
    assert body["grant_types_supported"] == ["client_credentials"]


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_a_signed_assertion_gets_a_short_token_that_opens_the_api(loop: Loop, alg: str) -> None:
    ehr = ehr_make(loop.clinic, alg=alg)
    answer = ehr.token_post("system/Task.rs system/Patient.read")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 300
    assert body["scope"] == "system/Patient.rs system/Task.rs"
    # Only the digest is stored.
    assert not ApiAccessToken.objects.filter(digest=body["access_token"]).exists()
    ehr.token = body["access_token"]
    assert ehr.get("Task").status_code == 200


def test_no_token_or_a_made_up_one_is_401_with_an_operation_outcome(loop: Loop) -> None:
    ehr = ehr_make(loop.clinic)
    ehr.token = "made-up"
    for answer in (ehr.get("Task"), HttpClient().get(f"{FHIR}Task", HTTP_HOST=ehr.host)):
        assert answer.status_code == 401
        assert answer["Content-Type"].startswith("application/fhir+json")
        assert answer.json()["resourceType"] == "OperationOutcome"
        assert answer.json()["issue"][0]["code"] == "login"


def refused(ehr, assertion: str, error: str = "invalid_client", **form: str) -> dict:  # type: ignore[no-untyped-def]
    answer = ehr.token_post(assertion=assertion, **form)
    assert answer.status_code in {400, 401}, answer.content
    assert answer.json()["error"] == error
    assert not ApiAccessToken.objects.exists()
    return answer.json()


def test_expired_wrong_audience_far_future_and_unsigned_assertions_are_refused(loop: Loop) -> None:
    ehr = ehr_make(loop.clinic)
    now = timezone.now()
    refused(ehr, ehr.assertion(exp=int((now - timedelta(minutes=2)).timestamp())))
    refused(ehr, ehr.assertion(aud="https://elsewhere.example/token"))
    refused(ehr, ehr.assertion(exp=int((now + timedelta(minutes=30)).timestamp())))
    refused(ehr, ehr.assertion(jti=None))
    refused(ehr, ehr.assertion(sub="someone-else"))
    # Signed by another key than the one registered under this kid.
    other, _public = key_pair("RS384")
    forged = jwt.encode(
        {
            "iss": ehr.client.client_id,
            "sub": ehr.client.client_id,
            "aud": f"http://{ehr.host}{FHIR}auth/token",
            "exp": int((now + timedelta(minutes=4)).timestamp()),
            "jti": str(uuid.uuid4()),
        },
        other,
        algorithm="RS384",
        headers={"kid": ehr.kid},
    )
    refused(ehr, forged)
    # HS256 (a shared secret) and "none" are not signatures this server takes.
    refused(ehr, jwt.encode({"iss": ehr.client.client_id}, "secret" * 6, algorithm="HS256"))
    refused(ehr, "not.a.jwt")


def test_a_replayed_assertion_is_refused(loop: Loop) -> None:
    ehr = ehr_make(loop.clinic)
    assertion = ehr.assertion()
    assert ehr.token_post(assertion=assertion).status_code == 200
    answer = ehr.token_post(assertion=assertion)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert ApiAccessToken.objects.count() == 1


def test_scopes_beyond_the_registration_or_malformed_are_refused(loop: Loop) -> None:
    ehr = ehr_make(loop.clinic, scopes="system/Task.rs")
    assert ehr.token_post("system/Task.cruds").json()["error"] == "invalid_scope"
    assert ehr.token_post("user/Task.rs").json()["error"] == "invalid_scope"
    assert ehr.token_post("system/Nonsense.rs").json()["error"] == "invalid_scope"
    assert ehr.token_post("").json()["error"] == "invalid_scope"
    assert ehr.token_post("system/Task.read").status_code == 200


def test_wrong_grant_type_is_refused(loop: Loop) -> None:
    ehr = ehr_make(loop.clinic)
    answer = ehr.token_post(grant_type="password")
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_another_networks_client_and_token_do_not_work_here(loop: Loop, other_loop: Loop) -> None:
    ehr = ehr_make(loop.clinic)
    here = ehr.host
    ehr.host = other_loop.tenant.network.site.hostname
    # The assertion names the other network's endpoint: still not a client there.
    answer = ehr.token_post()
    assert answer.status_code == 401
    ehr.host = here
    ehr.sign_in()
    ehr.host = other_loop.tenant.network.site.hostname
    assert ehr.get("Task").status_code == 401


def test_an_expired_token_or_a_switched_off_client_is_401(loop: Loop) -> None:
    ehr = ehr_make(loop.clinic).sign_in()
    ApiAccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert ehr.get("Task").status_code == 401
    ehr.sign_in()
    ehr.client.is_active = False
    ehr.client.save()
    assert ehr.get("Task").status_code == 401
    assert ehr.token_post().status_code == 401


def test_a_scope_not_granted_is_403(loop: Loop) -> None:
    ehr = ehr_make(loop.clinic).sign_in("system/Patient.rs")
    answer = ehr.get("Task")
    assert answer.status_code == 403
    assert answer.json()["issue"][0]["code"] == "forbidden"


def test_metadata_is_public_and_a_capability_statement(loop: Loop) -> None:
    host = loop.tenant.network.site.hostname
    answer = HttpClient().get(f"{FHIR}metadata", HTTP_HOST=host)
    assert answer.status_code == 200
    assert answer.json()["resourceType"] == "CapabilityStatement"
    assert answer.json()["fhirVersion"] == "4.0.1"
