"""SMART Backend Services: systems (an EHR's integration engine) sign in without a person.

A network admin registers an ``ApiClient`` for one organization with the system's public keys
(``api_client_register``); the system then trades a client assertion — a JWT it signs with its
private key (RS384 or ES384) — for a short-lived access token (``access_token_issue``, OAuth 2.0
client credentials, RFC 7523), and sends that token on every FHIR call (``access_token_read``).

The JWT is checked by PyJWT: signature against the registered key named by ``kid``, ``iss`` =
``sub`` = the client id, ``aud`` = the token endpoint, ``exp`` present and at most five minutes
ahead, ``jti`` never seen before for the client (kept until it expires).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import (
    ApiAccessToken,
    ApiClient,
    ApiClientAssertion,
    ApiClientRole,
    Network,
    Organization,
    OrganizationKind,
    User,
)
from .permissions import NetworkPerm, user_has_network_perm
from .services import membership_grant

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SIGNING_ALGORITHMS = ("RS384", "ES384")
# How far ahead an assertion may expire (the specification's five minutes), and the clock
# difference between the client and this server that is tolerated.
ASSERTION_LIFETIME = timedelta(minutes=5)
CLOCK_SKEW = timedelta(seconds=60)
TOKEN_LIFETIME = timedelta(minutes=5)

# The FHIR resources a system may be granted, and the SMART v2 interactions of a scope.
SCOPE_RESOURCES = (
    "Patient",
    "QuestionnaireResponse",
    "Observation",
    "Condition",
    "Consent",
    "ServiceRequest",
    "Task",
    "Procedure",
    "Organization",
    "Location",
    "HealthcareService",
    "Subscription",
)
_V2_ACTIONS = "cruds"
# SMART v1 scopes, read as their v2 equivalents.
_V1_ACTIONS = {"read": "rs", "write": "cud", "*": "cruds"}


class TokenError(Exception):
    """A token request refused: ``error`` is the OAuth 2.0 code (``invalid_client``,
    ``invalid_grant``, ``invalid_scope``, ``invalid_request``, ``unsupported_grant_type``)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def scope_parse(scope: str) -> dict[str, frozenset[str]]:
    """``system/Task.rs system/Patient.read`` → {"Task": {"r", "s"}, "Patient": {"r", "s"}}.

    Raises ValueError naming a scope that is not a system scope of a known resource."""
    granted: dict[str, set[str]] = {}
    for word in scope.split():
        context, _slash, rest = word.partition("/")
        resource, _dot, actions = rest.partition(".")
        if context != "system" or not actions:
            raise ValueError(word)
        resources = SCOPE_RESOURCES if resource == "*" else (resource,)
        if resource != "*" and resource not in SCOPE_RESOURCES:
            raise ValueError(word)
        if actions in _V1_ACTIONS:
            letters = _V1_ACTIONS[actions]
        elif actions and all(a in _V2_ACTIONS for a in actions) and _in_order(actions):
            letters = actions
        else:
            raise ValueError(word)
        for name in resources:
            granted.setdefault(name, set()).update(letters)
    return {name: frozenset(letters) for name, letters in granted.items()}


def _in_order(actions: str) -> bool:
    # SMART v2 writes the letters once each, in the order c, r, u, d, s.
    positions = [_V2_ACTIONS.index(a) for a in actions]
    return positions == sorted(set(positions))


def scope_text(granted: dict[str, frozenset[str]]) -> str:
    """The scopes as SMART v2 text, resources in a stable order."""
    return " ".join(
        f"system/{name}.{''.join(a for a in _V2_ACTIONS if a in granted[name])}"
        for name in sorted(granted)
    )


def jwks_checked(jwks: Any) -> dict[str, Any]:
    """The key set if it holds only public RS/EC keys, each with a kid; else ValidationError."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValidationError({"jwks": _('Give a JSON Web Key Set: {"keys": [ … ]}.')})
    try:
        keys = jwt.PyJWKSet.from_dict(jwks).keys
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, TypeError, ValueError) as exc:
        raise ValidationError(
            {"jwks": _("The key set cannot be read: %(why)s") % {"why": exc}}
        ) from exc
    if any(isinstance(raw, dict) and "d" in raw for raw in jwks["keys"]):
        # "d" is the private exponent (RSA) or scalar (EC): the key pair's secret half.
        raise ValidationError({"jwks": _("This is a private key: register only the public keys.")})
    if len(keys) != len(jwks["keys"]):
        raise ValidationError({"jwks": _("A key of a type this server does not use.")})
    for key in keys:
        if not key.key_id:
            raise ValidationError({"jwks": _("Every key needs a kid.")})
        if key.key_type not in {"RSA", "EC"}:
            raise ValidationError({"jwks": _("Only RSA (RS384) and EC (ES384) keys.")})
    return jwks


def scopes_checked(scopes: Iterable[str]) -> list[str]:
    """The scopes, sorted and once each, if all are system scopes here; else ValidationError."""
    words = sorted({s.strip() for s in scopes if s.strip()})
    if not words:
        raise ValidationError({"scopes": _("Allow at least one scope.")})
    try:
        scope_parse(" ".join(words))
    except ValueError as exc:
        raise ValidationError(
            {"scopes": _("Not a system scope of a FHIR resource here: %(scope)s") % {"scope": exc}}
        ) from exc
    return words


def role_checked(organization: Organization, role: str) -> None:
    """ValidationError unless a system may act as ``role`` for the organization's kind."""
    allowed = {
        OrganizationKind.CLINIC: {ApiClientRole.CLINIC},
        OrganizationKind.AGENCY: {ApiClientRole.AGENCY},
        OrganizationKind.BOTH: {ApiClientRole.CLINIC, ApiClientRole.AGENCY},
    }[OrganizationKind(organization.kind)]
    if role not in allowed:
        raise ValidationError(
            {"role": _("%(org)s cannot have a system acting this way.") % {"org": organization}}
        )


@transaction.atomic
def api_client_register(
    *,
    network: Network,
    organization: Organization,
    name: str,
    role: str,
    jwks: Any,
    scopes: Iterable[str],
    by: User | None,
) -> ApiClient:
    """Register a system for ``organization``: its account (no password, a membership with
    ``role``) and its keys. ``by`` must administer the network (None: a command of the
    operator). Raises ValidationError naming every problem; nothing is written then."""
    if by is not None and not user_has_network_perm(by, NetworkPerm.ADMINISTER, network):
        raise PermissionDenied(_("Only the network's admins register systems."))
    if organization.network_id != network.pk:
        raise ValidationError({"organization": _("The organization belongs to another network.")})
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the system.")})
    if ApiClient.objects.filter(network=network, name=name).exists():
        raise ValidationError({"name": _("Another system of this network has this name.")})
    role_checked(organization, role)
    checked_jwks = jwks_checked(jwks)
    checked_scopes = scopes_checked(scopes)
    client_id = str(uuid.uuid4())
    user = User(username=f"system-{client_id}", first_name=name[:150], email="")
    user.set_unusable_password()
    user.save()
    client = ApiClient.objects.create(
        network=network,
        organization=organization,
        user=user,
        name=name,
        client_id=client_id,
        role=role,
        jwks=checked_jwks,
        scopes=checked_scopes,
    )
    membership_grant(user=user, role=role, organization=organization, notify=False)
    return client


@transaction.atomic
def api_client_update(
    *, client: ApiClient, by: User | None, jwks: Any, scopes: Iterable[str], is_active: bool
) -> ApiClient:
    """New keys, scopes, or switched off; a client switched off loses its tokens at once."""
    if by is not None and not user_has_network_perm(by, NetworkPerm.ADMINISTER, client.network):
        raise PermissionDenied(_("Only the network's admins change systems."))
    client.jwks = jwks_checked(jwks)
    client.scopes = scopes_checked(scopes)
    client.is_active = is_active
    client.save(update_fields=["jwks", "scopes", "is_active"])
    if not is_active:
        ApiAccessToken.objects.filter(client=client).delete()
    return client


@dataclass(frozen=True)
class IssuedToken:
    """What the token endpoint answers (the token itself is never stored)."""

    access_token: str
    expires_in: int
    scope: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _assertion_client(assertion: str) -> tuple[ApiClient, jwt.PyJWK]:
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenError("invalid_client", _("The client assertion is not a JWT.")) from exc
    if header.get("alg") not in SIGNING_ALGORITHMS:
        raise TokenError("invalid_client", _("Sign the assertion with RS384 or ES384."))
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or unverified.get("sub") != client_id:
        raise TokenError("invalid_client", _("The assertion's iss and sub must be the client id."))
    client = (
        ApiClient.objects.select_related("network", "organization", "user")
        .filter(client_id=client_id, is_active=True, organization__is_active=True)
        .first()
    )
    if client is None:
        raise TokenError("invalid_client", _("No such client, or it is switched off."))
    try:
        keys = jwt.PyJWKSet.from_dict(client.jwks).keys
    except jwt.PyJWTError as exc:
        raise TokenError("invalid_client", _("The client's registered keys are unusable.")) from exc
    kid = header.get("kid")
    key = next((k for k in keys if k.key_id == kid), None)
    if key is None:
        raise TokenError("invalid_client", _("No registered key has this kid."))
    return client, key


@transaction.atomic
def access_token_issue(
    *,
    network: Network,
    grant_type: str,
    assertion_type: str,
    assertion: str,
    scope: str,
    token_url: str,
    now: datetime | None = None,
) -> IssuedToken:
    """Check a client credentials request with a JWT assertion and issue a token for the scopes
    asked that the client is allowed (all asked must be allowed). Raises TokenError."""
    now = now or timezone.now()
    if grant_type != "client_credentials":
        raise TokenError("unsupported_grant_type", _("Use grant_type=client_credentials."))
    if assertion_type != ASSERTION_TYPE or not assertion:
        raise TokenError("invalid_request", _("Send a JWT client assertion (private_key_jwt)."))
    client, key = _assertion_client(assertion)
    if client.network_id != network.pk:
        # Another network's client at this network's endpoint: as unknown as a made-up one.
        raise TokenError("invalid_client", _("No such client, or it is switched off."))
    try:
        claims = jwt.decode(
            assertion,
            key=key,
            algorithms=list(SIGNING_ALGORITHMS),
            audience=token_url,
            issuer=client.client_id,
            leeway=CLOCK_SKEW,
            options={"require": ["exp", "iss", "sub", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("invalid_client", _("The client assertion has expired.")) from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError(
            "invalid_client", _("The assertion's aud must be this token endpoint's URL.")
        ) from exc
    except jwt.PyJWTError as exc:
        raise TokenError(
            "invalid_client", _("The client assertion is not valid: %(why)s") % {"why": exc}
        ) from exc
    expires = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
    if expires - now > ASSERTION_LIFETIME + CLOCK_SKEW:
        raise TokenError("invalid_client", _("The assertion may expire at most 5 minutes ahead."))
    jti = str(claims["jti"])
    if not jti or len(jti) > 255:
        raise TokenError("invalid_client", _("The assertion needs a jti of 1 to 255 characters."))
    ApiClientAssertion.objects.filter(expires_at__lt=now - CLOCK_SKEW).delete()
    try:
        with transaction.atomic():
            ApiClientAssertion.objects.create(
                client=client, jti=jti, expires_at=expires + CLOCK_SKEW
            )
    except IntegrityError as exc:
        raise TokenError("invalid_client", _("This assertion (its jti) was used before.")) from exc
    try:
        asked = scope_parse(scope)
    except ValueError as exc:
        raise TokenError(
            "invalid_scope", _("Not a scope here: %(scope)s") % {"scope": exc}
        ) from exc
    allowed = scope_parse(" ".join(client.scopes))
    if not asked:
        raise TokenError("invalid_scope", _("Ask for at least one scope."))
    refused = [
        name for name, letters in asked.items() if not letters <= allowed.get(name, frozenset())
    ]
    if refused:
        raise TokenError(
            "invalid_scope",
            _("This client may not ask for these scopes: %(names)s")
            % {"names": ", ".join(sorted(refused))},
        )
    token = secrets.token_urlsafe(32)
    ApiAccessToken.objects.filter(client=client, expires_at__lt=now).delete()
    ApiAccessToken.objects.create(
        client=client,
        digest=_digest(token),
        scopes=scope_text(asked).split(),
        issued_at=now,
        expires_at=now + TOKEN_LIFETIME,
    )
    return IssuedToken(
        access_token=token,
        expires_in=int(TOKEN_LIFETIME.total_seconds()),
        scope=scope_text(asked),
    )


@dataclass(frozen=True)
class SignedIn:
    """Who a bearer token signs in: the client (with its account, organization and network)
    and what it may do."""

    client: ApiClient
    scopes: dict[str, frozenset[str]]

    def allows(self, resource: str, action: str) -> bool:
        return action in self.scopes.get(resource, frozenset())


def access_token_read(*, token: str, now: datetime | None = None) -> SignedIn | None:
    """The client a token signs in (one query), or None: unknown, expired or switched off."""
    now = now or timezone.now()
    if not token or len(token) > 200:
        return None
    found = (
        ApiAccessToken.objects.select_related(
            "client__network", "client__organization", "client__user"
        )
        .filter(
            digest=_digest(token),
            expires_at__gt=now,
            client__is_active=True,
            client__organization__is_active=True,
        )
        .first()
    )
    if found is None:
        return None
    return SignedIn(client=found.client, scopes=scope_parse(" ".join(found.scopes)))


__all__ = [
    "ASSERTION_TYPE",
    "SCOPE_RESOURCES",
    "SIGNING_ALGORITHMS",
    "IssuedToken",
    "SignedIn",
    "TokenError",
    "access_token_issue",
    "access_token_read",
    "api_client_register",
    "api_client_update",
    "jwks_checked",
    "role_checked",
    "scope_parse",
    "scope_text",
    "scopes_checked",
]
