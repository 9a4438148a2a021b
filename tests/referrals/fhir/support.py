"""A test EHR: its own key pair, registered as an API client of an organization, signing its
client assertions and getting SMART Backend Services tokens through the real token endpoint."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client as HttpClient
from django.utils import timezone
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from network.models import ApiClient, ApiClientRole, Organization
from network.smart import api_client_register

FHIR = "/fhir/r4/"
FHIR_JSON = "application/fhir+json"
TOKEN_PATH = f"{FHIR}auth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALL_SCOPES = (
    "system/Patient.cruds system/QuestionnaireResponse.cruds system/Observation.rs "
    "system/Condition.rs system/Consent.cruds system/ServiceRequest.cruds system/Task.cruds "
    "system/Procedure.rs system/Organization.rs system/Location.rs "
    "system/HealthcareService.rs system/Subscription.cruds"
)


@dataclass
class Ehr:
    """A registered system with its private key; ``http`` calls the network's host."""

    client: ApiClient
    private_key: Any
    kid: str
    alg: str
    host: str
    http: HttpClient = field(default_factory=HttpClient)
    token: str = ""

    def assertion(self, **claims: Any) -> str:
        """A signed client assertion (claims override the good ones; None removes one)."""
        now = timezone.now()
        body: dict[str, Any] = {
            "iss": self.client.client_id,
            "sub": self.client.client_id,
            "aud": f"http://{self.host}{TOKEN_PATH}",
            "exp": int((now + timedelta(minutes=4)).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.private_key, algorithm=self.alg, headers={"kid": self.kid})

    def token_post(self, scope: str = ALL_SCOPES, assertion: str | None = None, **form: str) -> Any:
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion if assertion is not None else self.assertion(),
            "scope": scope,
            **form,
        }
        return self.http.post(TOKEN_PATH, data, HTTP_HOST=self.host)

    def sign_in(self, scope: str = ALL_SCOPES) -> Ehr:
        answer = self.token_post(scope)
        assert answer.status_code == 200, answer.content
        self.token = answer.json()["access_token"]
        return self

    def headers(self, **extra: str) -> dict[str, str]:
        return {"HTTP_HOST": self.host, "HTTP_AUTHORIZATION": f"Bearer {self.token}", **extra}

    def get(self, path: str, **extra: str) -> Any:
        return self.http.get(_url(path), **self.headers(**extra))

    def post(self, path: str, resource: dict[str, Any], **extra: str) -> Any:
        return self.http.post(
            _url(path), json.dumps(resource), content_type=FHIR_JSON, **self.headers(**extra)
        )

    def put(self, path: str, resource: dict[str, Any], **extra: str) -> Any:
        return self.http.put(
            _url(path), json.dumps(resource), content_type=FHIR_JSON, **self.headers(**extra)
        )


def _url(path: str) -> str:
    return path if path.startswith("/") else FHIR + path


def key_pair(alg: str = "RS384") -> tuple[Any, dict[str, Any]]:
    """A new private key and its public JWK (no ``kid`` yet)."""
    if alg == "ES384":
        private: Any = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return private, public


# Generating an RSA key takes tens of milliseconds: one per process, reused by every EHR.
_KEYS: dict[str, tuple[Any, dict[str, Any]]] = {}


def ehr_make(
    organization: Organization,
    *,
    name: str = "Test EHR",
    role: str | None = None,
    scopes: str = ALL_SCOPES,
    alg: str = "RS384",
    host: str | None = None,
) -> Ehr:
    """A system registered for ``organization`` (acting as its clinic, else as its agency)."""
    if alg not in _KEYS:
        _KEYS[alg] = key_pair(alg)
    private, public = _KEYS[alg]
    kid = f"{alg.lower()}-1"
    client = api_client_register(
        network=organization.network,
        organization=organization,
        name=name,
        role=role
        or (ApiClientRole.CLINIC if organization.sends_referrals else ApiClientRole.AGENCY),
        jwks={"keys": [{**public, "kid": kid, "alg": alg, "use": "sig"}]},
        scopes=scopes.split(),
        by=None,
    )
    return Ehr(
        client=client,
        private_key=private,
        kid=kid,
        alg=alg,
        host=host or organization.network.site.hostname,
    )


def instant_of(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
