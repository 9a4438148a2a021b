"""The referral API for the acting organization (``/workspace/api/``), on the one API framework
(``cms.api``): its OpenAPI schema at ``openapi.json`` and its interactive docs at ``docs``, both
for members of the workspace.

Signed-in staff use their session, with Django's CSRF token (``X-CSRFToken`` header) on every
change, exactly as the workspace pages do; they act for the organization they chose there.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from cms.api import api_make
from network.decorators import member_required

from .auth import WorkspaceSession
from .referrals import router

api = api_make(
    title="Handoff referral API",
    version="1.0.0",
    urls_namespace="referrals:api",
    description=str(
        _(
            "Referrals of the organization you act for: list, read (only what the client's "
            "consent and the agency's data-sharing agreement disclose; every read is logged), "
            "send with consent, change status. Sign in to the workspace first; send the CSRF "
            "token (header X-CSRFToken) with every change."
        )
    ),
    auth=WorkspaceSession(),
    docs_decorator=member_required,
)
api.add_router("/", router)

__all__ = ["api"]
