"""Downloads of private files that hold client data: the signed consent forms.

(Signed agreements are Wagtail documents, served through Wagtail's document view and the
``before_serve_document`` hook in ``consent.wagtail_hooks``.)
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from cms.downloads import private_file_response
from network.middleware import TenantRequest
from network.views import member_required
from network.views.referrals import client_ip

from . import services
from .files import content_type_for
from .selectors import signed_forms_visible


@require_GET
@member_required
def signed_form_download(request: TenantRequest, pk: int) -> HttpResponse:
    """The consent's signed form, for staff of the client's clinic (404 for anyone else), as an
    attachment; each download is written to the client's accounting of disclosures."""
    organization = request.organization
    if organization is None:  # network admins act for no clinic
        raise Http404
    consent = get_object_or_404(
        signed_forms_visible(user=request.user, organization=organization), pk=pk
    )
    services.signed_form_download(
        consent=consent,
        by=request.user,
        organization=organization,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return private_file_response(
        file=consent.signed_form,
        filename=consent.signed_form_name or consent.signed_form.name.rsplit("/", 1)[-1],
        content_type=content_type_for(consent.signed_form.name),
    )
