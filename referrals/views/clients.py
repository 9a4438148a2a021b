"""The clinic workspace: find and add clients, the client page and the client's consents.

Only staff of the acting clinic get here; anyone else is refused (403), and a client of another
clinic or network is simply not found (404).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.forms import BaseForm
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cms.categories import need_label
from cms.client_address import client_ip, client_user_agent
from consent import services as consent_services
from consent.models import AccessPurpose, ClientField, Consent, ConsentMethod
from network import selectors
from network.decorators import member_required
from network.middleware import TenantRequest
from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.errors import PossibleDuplicate
from referrals.forms import (
    ClientForm,
    ConsentForm,
    ConsentRevokeForm,
)
from referrals.models import Client, Referral, Screening
from referrals.screening import Domain, InvalidScreening, score_ahc_hrsn
from referrals.selectors.clients import (
    client_consents,
    client_referrals,
    client_screenings,
    clients_find,
    clients_visible,
)
from referrals.services.clients import client_create
from referrals.views.referral import acting_organization
from search.query import LANGUAGE_CODE

CLIENTS_PER_PAGE = 25

DOMAIN_LABELS: Mapping[str, Any] = {
    Domain.LIVING_SITUATION: gettext_lazy("Living situation"),
    Domain.HOUSING_QUALITY: gettext_lazy("Housing quality"),
    Domain.FOOD: gettext_lazy("Food"),
    Domain.TRANSPORTATION: gettext_lazy("Transportation"),
    Domain.UTILITIES: gettext_lazy("Utilities"),
    Domain.SAFETY: gettext_lazy("Interpersonal safety"),
}

# The client fields each page shows, as its access-log rows name them.
F = ClientField
LIST_FIELDS = [F.NAME, F.DATE_OF_BIRTH]
CLIENT_PAGE_FIELDS = [
    F.NAME,
    F.DATE_OF_BIRTH,
    F.PHONE,
    F.EMAIL,
    F.ADDRESS,
    F.PREFERRED_LANGUAGE,
    F.CONTACT_PREFERENCES,
    F.SCREENING,
]
SCREENING_FIELDS = [F.NAME, F.SCREENING]
NAME_ONLY = [F.NAME]

CONSENT_STATES: Mapping[str, Any] = {
    "active": gettext_lazy("Active"),
    "scheduled": gettext_lazy("Not yet in force"),
    "expired": gettext_lazy("Expired"),
    "revoked": gettext_lazy("Revoked"),
}


# --- helpers ---------------------------------------------------------------------------------


def acting_clinic(request: TenantRequest) -> Organization:
    """The acting organization if the user works there as clinic staff; 403 for anyone else."""
    organization = acting_organization(request)
    if not organization.sends_referrals or not user_has_org_perm(
        request.user, OrgPerm.SEND_REFERRALS, organization
    ):
        raise PermissionDenied(_("Only clinic staff work with clients."))
    return organization


def visible_client(request: TenantRequest, pk: int) -> tuple[Organization, Client]:
    clinic = acting_clinic(request)
    client = get_object_or_404(clients_visible(user=request.user, organization=clinic), pk=pk)
    return clinic, client


def clients_seen(
    request: TenantRequest,
    organization: Organization,
    *,
    purpose: str,
    fields: Iterable[str],
    seen: Iterable[tuple[int, int | None]],
) -> None:
    """Log the page's client data as seen by the person asking (one INSERT for a whole list)."""
    consent_services.access_log_write(
        user=request.user,
        organization=organization,
        purpose=purpose,
        fields=list(fields),
        seen=seen,
        ip_address=client_ip(request),
        user_agent=client_user_agent(request),
    )


def category_labels(codes: Iterable[str]) -> list[str]:
    return [need_label(code) for code in codes]


def domain_labels(domains: Iterable[str]) -> list[str]:
    return [str(DOMAIN_LABELS[d]) for d in Domain if d in set(domains)]


def refer_url(
    *, client: Client, screening: Screening | None = None, categories: Iterable[str] = ()
) -> str:
    """The staff search that starts from ``client``: services near the client's ZIP code,
    nearest first, in the client's preferred language (English is assumed of every listing,
    so it filters nothing), with the screening's positive needs (or ``categories``) ticked."""
    codes = list(categories)
    if screening is not None:
        codes += screening.positive_categories
    params: list[tuple[str, str]] = [("category", code) for code in dict.fromkeys(codes)]
    zip_code = client.postal_code.strip()
    if zip_code:
        params += [("near", zip_code), ("sort", "distance")]
    language = client.preferred_language.strip().lower()
    if LANGUAGE_CODE.match(language) and language not in {"en", "eng"}:
        params.append(("language", language))
    params.append(("client", str(client.pk)))
    return f"{reverse('referrals:search')}?{urlencode(params)}"


def form_errors(form: BaseForm, exc: ValidationError, fields: Mapping[str, str] = {}) -> None:
    """Put a service's refusal on the form, each message on its field where the form has it."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, problems in exc.message_dict.items():
        name = fields.get(field, field)
        form.add_error(name if name in form.fields else None, problems)


def consent_state(consent: Consent, at: datetime) -> str:
    """active, scheduled, expired or revoked (a revocation wins over an expiry)."""
    if consent.revoked_at is not None and consent.revoked_at <= at:
        return "revoked"
    if consent.expires_at <= at:
        return "expired"
    if consent.granted_at > at:
        return "scheduled"
    return "active"


# --- clients ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@member_required
def client_list(request: TenantRequest) -> HttpResponse:
    """The clinic's clients, found by name, date of birth or record number, 25 a page.

    What is typed is posted, never put in the address: a name, a birth date or a record number
    in a URL ends up in access logs, the browser's history and Referer headers. Paging a search
    posts it again; paging the whole list is a plain link."""
    clinic = acting_clinic(request)
    data = request.POST if request.method == "POST" else request.GET
    text = request.POST.get("q", "").strip()[:100]
    page = Paginator(
        clients_find(user=request.user, organization=clinic, text=text),
        CLIENTS_PER_PAGE,
    ).get_page(data.get("page"))
    clients_seen(
        request,
        clinic,
        purpose=AccessPurpose.CLIENT_LIST,
        fields=LIST_FIELDS,
        seen=[(client.pk, None) for client in page.object_list],
    )
    context = {"q": text, "page": page}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "referrals/clinic/_client_results.html", context)
    return render(request, "referrals/clinic/client_list.html", context)


@require_http_methods(["GET", "POST"])
@member_required
def client_new(request: TenantRequest) -> HttpResponse:
    clinic = acting_clinic(request)
    clients = clients_visible(user=request.user, organization=clinic)
    if request.method != "POST":
        form = ClientForm(clients=clients)
        return render(request, "referrals/clinic/client_new.html", {"form": form})
    form = ClientForm(request.POST, clients=clients)
    candidates: list[Client] = []
    status = 400
    if form.is_valid():
        details = form.client_details()
        try:
            client = client_create(
                organization=clinic,
                by=request.user,
                confirm_new=form.cleaned_data["confirm_new"],
                **details,
            )
        except PossibleDuplicate as exc:
            candidates, status = exc.candidates, 409
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, _("%(name)s was added.") % {"name": client.full_name})
            return redirect("referrals:client_detail", pk=client.pk)
    return render(
        request,
        "referrals/clinic/client_new.html",
        {"form": form, "candidates": candidates},
        status=status,
    )


@require_GET
@member_required
def client_detail(request: TenantRequest, pk: int) -> HttpResponse:
    clinic, client = visible_client(request, pk)
    return _client_page(request, clinic, client)


def _client_page(
    request: TenantRequest,
    clinic: Organization,
    client: Client,
    *,
    revoking: tuple[int, ConsentRevokeForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The client page; ``revoking`` is a consent whose revoke form is shown with its errors."""
    now = timezone.now()
    screening_list = list(client_screenings(client=client))
    screenings = [
        {
            "screening": screening,
            "domains": screening_domains(screening),
            "categories": category_labels(screening.positive_categories),
            "incomplete": domain_labels(screening.incomplete),
            "search_url": refer_url(client=client, screening=screening),
        }
        for screening in screening_list
    ]
    consents = []
    for consent in client_consents(client=client):
        form = ConsentRevokeForm(auto_id=f"revoke-{consent.pk}-%s")
        if revoking is not None and revoking[0] == consent.pk:
            form = revoking[1]
        state = consent_state(consent, now)
        consents.append(
            {
                "consent": consent,
                "state": state,
                "state_label": CONSENT_STATES[state],
                "categories": category_labels(consent.categories),
                "recipients": [org.name for org in consent.recipients.all()],
                "sensitive_recipients": [org.name for org in consent.sensitive_recipients.all()],
                "revoke_form": form,
            }
        )
    referrals: list[Referral] = list(
        client_referrals(user=request.user, organization=clinic, client=client)
    )
    clients_seen(
        request,
        clinic,
        purpose=AccessPurpose.CLIENT,
        fields=CLIENT_PAGE_FIELDS,
        seen=[(client.pk, None)],
    )
    return render(
        request,
        "referrals/clinic/client_detail.html",
        {
            "client": client,
            "screenings": screenings,
            "consents": consents,
            "referrals": referrals,
            "refer_url": refer_url(
                client=client, screening=screening_list[0] if screening_list else None
            ),
            "revoke_open": revoking[0] if revoking else None,
            "can_merge": user_has_org_perm(
                request.user,
                OrgPerm.MANAGE_MEMBERS,
                clinic,
                checker=request.permission_checker,
            ),
        },
        status=status,
    )


def screening_domains(screening: Screening) -> list[str]:
    try:
        return domain_labels(score_ahc_hrsn(screening.answers).positive_domains)
    except InvalidScreening:  # stored under an older version of the questions
        return []


# --- consent ---------------------------------------------------------------------------------

# Service error keys -> the form fields that show them.
_CONSENT_ERROR_FIELDS = {"attestation": "attested", "expires_at": "expires_on"}


@require_http_methods(["GET", "POST"])
@member_required
def consent_new(request: TenantRequest, pk: int) -> HttpResponse:
    """Record consent. The verbal wording shown is the one stored; a "show the wording" button
    (or htmx, on every change) refreshes it for the choices made."""
    clinic, client = visible_client(request, pk)
    agencies = selectors.organizations_visible(
        user=request.user, network=client.network, kind="agency", memberships=request.memberships
    )
    preview = request.method == "POST" and request.POST.get("action") == "preview"
    if request.method != "POST" or preview:
        # Choices carried over (from a screening's link, or the form itself), not yet checked.
        initial = ConsentForm.initial_from(request.POST if preview else request.GET)
        form = ConsentForm(
            initial=initial,
            clinic=clinic,
            agencies=agencies,
            client_language=client.preferred_language,
        )
        return _consent_page(request, clinic, client, form, preview=preview)
    form = ConsentForm(
        request.POST,
        request.FILES,
        clinic=clinic,
        agencies=agencies,
        client_language=client.preferred_language,
    )
    if form.is_valid():
        try:
            consent_services.consent_record(
                client=client, by=request.user, organization=clinic, **form.consent_arguments()
            )
        except ValidationError as exc:
            form_errors(form, exc, _CONSENT_ERROR_FIELDS)
        else:
            messages.success(request, _("The consent was recorded."))
            return redirect("referrals:client_detail", pk=client.pk)
    return _consent_page(request, clinic, client, form, status=400)


def _consent_page(
    request: TenantRequest,
    clinic: Organization,
    client: Client,
    form: ConsentForm,
    *,
    preview: bool = False,
    status: int = 200,
) -> HttpResponse:
    clients_seen(
        request, clinic, purpose=AccessPurpose.CONSENT, fields=NAME_ONLY, seen=[(client.pk, None)]
    )
    return render(
        request,
        "referrals/clinic/consent_new.html",
        {
            "client": client,
            "form": form,
            "script": form.script(),
            "preview": preview,
            "verbal": ConsentMethod.VERBAL,
        },
        status=status,
    )


@require_POST
@member_required
def consent_revoke(request: TenantRequest, pk: int, consent_pk: int) -> HttpResponse:
    clinic, client = visible_client(request, pk)
    consent = get_object_or_404(client_consents(client=client), pk=consent_pk)
    form = ConsentRevokeForm(request.POST, auto_id=f"revoke-{consent.pk}-%s")
    if form.is_valid():
        try:
            consent_services.consent_revoke(
                consent=consent, by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):  # e.g. already revoked: the form is gone
                messages.error(request, " ".join(exc.messages))
            form_errors(form, exc)
        else:
            messages.success(request, _("The consent was revoked."))
            return redirect("referrals:client_detail", pk=client.pk)
    return _client_page(request, clinic, client, revoking=(consent.pk, form), status=400)
