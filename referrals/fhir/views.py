"""SMART Backend Services sign-in: where the token endpoint is, and the endpoint itself.

OAuth 2.0 answers plain JSON (``application/json``), errors as ``{"error", "error_description"}``
(RFC 6749 §5.2), never an OperationOutcome: these two are OAuth's, not FHIR's.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from network.middleware import TenantRequest
from network.smart import (
    SCOPE_RESOURCES,
    SIGNING_ALGORITHMS,
    TokenError,
    access_token_issue,
)

from .base import FHIR_PATH


def token_url(request: HttpRequest) -> str:
    """The token endpoint's absolute URL on this host: the ``aud`` a client assertion names."""
    return request.build_absolute_uri(f"{FHIR_PATH}auth/token")


@require_GET
def smart_configuration(request: TenantRequest) -> JsonResponse:
    """``.well-known/smart-configuration``: how a system signs in here."""
    if request.network is None:
        return JsonResponse({"error": "not_found"}, status=404)
    return JsonResponse(
        {
            "issuer": request.build_absolute_uri(FHIR_PATH),
            "token_endpoint": token_url(request),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": [
                f"system/{name}.{actions}"
                for name in SCOPE_RESOURCES
                for actions in ("cruds", "rs", "c", "u")
            ],
            "capabilities": ["client-confidential-asymmetric"],
        }
    )


@csrf_exempt
@require_POST
@never_cache
def token(request: TenantRequest) -> JsonResponse:
    """Client credentials with a signed JWT assertion → a bearer token for this network."""
    if request.network is None:
        return JsonResponse(
            {"error": "invalid_request", "error_description": "No network at this address."},
            status=400,
        )
    form = request.POST
    try:
        issued = access_token_issue(
            network=request.network,
            grant_type=form.get("grant_type", ""),
            assertion_type=form.get("client_assertion_type", ""),
            assertion=form.get("client_assertion", ""),
            scope=form.get("scope", ""),
            token_url=token_url(request),
        )
    except TokenError as exc:
        status = 401 if exc.error == "invalid_client" else 400
        return JsonResponse(
            {"error": exc.error, "error_description": exc.description}, status=status
        )
    response = JsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
    )
    response["Pragma"] = "no-cache"
    return response
