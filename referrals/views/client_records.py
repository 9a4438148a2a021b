"""Keeping client records right: edit a client's details, and merge a duplicate into the
record kept (find the duplicate by name, misspelt or not, then confirm)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from consent.models import AccessPurpose
from network.decorators import member_required
from network.middleware import TenantRequest
from referrals.forms import ClientForm
from referrals.models import Client
from referrals.selectors.clients import clients_find, clients_visible
from referrals.services.clients import client_update
from referrals.services.merging import client_merge_permitted, clients_merge
from referrals.views.clients import (
    CLIENT_PAGE_FIELDS,
    LIST_FIELDS,
    clients_seen,
    form_errors,
    visible_client,
)

MAX_CANDIDATES = 20


@require_http_methods(["GET", "POST"])
@member_required
def client_edit(request: TenantRequest, pk: int) -> HttpResponse:
    clinic, client = visible_client(request, pk)
    others = clients_visible(user=request.user, organization=clinic).exclude(pk=client.pk)
    if request.method != "POST":
        form = ClientForm(instance=client, clients=others)
        status = 200
    else:
        form = ClientForm(request.POST, instance=Client.objects.get(pk=client.pk), clients=others)
        status = 400
        if form.is_valid():
            try:
                client_update(
                    client=client, by=request.user, organization=clinic, **form.client_details()
                )
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                messages.success(
                    request, _("%(name)s's details were saved.") % {"name": client.full_name}
                )
                return redirect("referrals:client_detail", pk=client.pk)
    clients_seen(
        request,
        clinic,
        purpose=AccessPurpose.CLIENT,
        fields=CLIENT_PAGE_FIELDS,
        seen=[(client.pk, None)],
    )
    return render(
        request,
        "referrals/clinic/client_edit.html",
        {"client": client, "form": form},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@member_required
def client_merge(request: TenantRequest, pk: int) -> HttpResponse:
    """Merge a duplicate into this client. Step 1: find the duplicate (the name is posted,
    never in the address). Step 2 (``?other=<id>``): both records side by side, confirm."""
    clinic, client = visible_client(request, pk)
    if not client_merge_permitted(request.user, clinic):
        raise PermissionDenied(_("Only the clinic's admins may merge clients."))
    others = clients_visible(user=request.user, organization=clinic).exclude(pk=client.pk)
    data = request.POST if request.method == "POST" else request.GET
    other_id = data.get("other", "")
    other = (
        others.filter(pk=int(other_id)).first()
        if other_id.isdigit() and len(other_id) < 18
        else None
    )
    if other_id and other is None:
        messages.error(request, _("That client is not one of your clinic's clients."))
    text = request.POST.get("q", "").strip()[:100] if request.method == "POST" else ""
    if request.method == "POST" and request.POST.get("action") == "merge" and other is not None:
        try:
            merge = clients_merge(kept=client, removed=other, by=request.user, organization=clinic)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("referrals:client_merge", pk=client.pk)
        moved = sum(merge.moved.values())
        messages.success(
            request,
            _("%(removed)s was merged into %(kept)s (%(n)s records moved).")
            % {"removed": other.full_name, "kept": client.full_name, "n": moved},
        )
        return redirect("referrals:client_detail", pk=client.pk)
    candidates: list[Client] = []
    if text:
        candidates = list(
            clients_find(user=request.user, organization=clinic, text=text).exclude(pk=client.pk)[
                :MAX_CANDIDATES
            ]
        )
    shown = [client, *candidates, *([other] if other is not None else [])]
    clients_seen(
        request,
        clinic,
        purpose=AccessPurpose.CLIENT_LIST,
        fields=LIST_FIELDS,
        seen=[(c.pk, None) for c in shown],
    )
    return render(
        request,
        "referrals/clinic/client_merge.html",
        {
            "client": client,
            "q": text,
            "candidates": candidates,
            "other": other,
            "counts": _counts(other) if other is not None else None,
        },
    )


def _counts(client: Client) -> dict[str, int]:
    """What would move with the duplicate, for the confirmation."""
    return {
        "screenings": client.screenings.count(),
        "consents": client.consents.count(),
        "referrals": client.referrals.count(),
    }
