"""Client pages for the clinic that owns the client."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from consent.models import AccessPurpose, ClientField
from consent.selectors import disclosures_for_client
from network.decorators import member_required
from network.middleware import TenantRequest
from referrals.selectors.clients import clients_visible
from referrals.views.clients import clients_seen


@require_GET
@member_required
def client_disclosures(request: TenantRequest, pk: int) -> HttpResponse:
    """The accounting of disclosures, laid out to print (HIPAA: who received what, when)."""
    if request.organization is None:  # network admins act for no clinic
        raise Http404
    organization = request.organization
    client = get_object_or_404(clients_visible(user=request.user, organization=organization), pk=pk)
    clients_seen(
        request,
        organization,
        purpose=AccessPurpose.DISCLOSURES,
        fields=[ClientField.NAME],
        seen=[(client.pk, None)],
    )
    labels = dict(ClientField.choices)
    rows = [
        (entry, [labels.get(code, code) for code in entry.fields])
        for entry in disclosures_for_client(
            client=client, user=request.user, organization=organization
        )
    ]
    return render(
        request,
        "referrals/client_disclosures.html",
        {"client": client, "rows": rows, "printed_at": timezone.now(), "clinic": organization},
    )
