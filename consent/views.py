"""Downloads of private files that hold client data: signed consent forms, and Wagtail documents
(signed agreements), whose reader ``consent.wagtail_hooks.document_serve_check`` checks."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from django.views.decorators.http import require_GET
from wagtail import hooks
from wagtail.documents import get_document_model
from wagtail.documents.models import document_served

from cms.client_address import client_ip
from cms.downloads import private_file_response
from network.middleware import TenantRequest

from . import services
from .files import content_type_for
from .selectors import signed_forms_visible


@require_GET
@login_required
def signed_form_download(request: TenantRequest, pk: int) -> HttpResponseBase:
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
    stored = consent.signed_form.name or ""
    return private_file_response(
        file=consent.signed_form,
        filename=consent.signed_form_name or stored.rsplit("/", 1)[-1],
        content_type=content_type_for(stored),
    )


@require_GET
def document_download(
    request: HttpRequest, document_id: str, document_filename: str
) -> HttpResponseBase:
    """A Wagtail document, in place of Wagtail's serve view: the same ``before_serve_document``
    hooks decide who may read it (``consent.wagtail_hooks.document_serve_check`` lets only
    permitted readers through), then it is read from its (private) storage, whatever that is,
    as an attachment named after the document's title, never cached."""
    Document = get_document_model()
    document = get_object_or_404(Document, pk=int(document_id))
    if document.filename != document_filename:
        raise Http404
    for check in hooks.get_hooks("before_serve_document"):
        refused = check(document, request)
        if isinstance(refused, HttpResponseBase):
            return refused
    document_served.send(sender=Document, instance=document, request=request)
    return private_file_response(
        file=document.file,
        filename=f"{slugify(document.title) or 'document'}.{document.file_extension}",
        content_type=document.content_type,
    )
