"""Sending referrals from the staff search: one or more services, the client, the needs, the
urgency, a note and the client's consent, in one form and one transaction.

The idempotency key is made when the form is shown, so a double click or a retried POST
returns the referrals already sent (and records no second consent) instead of sending twice.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from cms.categories import NEED_CHOICES, NEED_LABELS, need_label
from consent.models import Consent, ConsentMethod
from consent.wording import script_language, script_languages, verbal_consent_script
from network.decorators import member_required
from network.middleware import TenantRequest
from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.errors import ReferralError
from referrals.forms import ReferralSendForm
from referrals.models import Client, Referral, Urgency
from referrals.selectors.clients import clients_visible
from referrals.selectors.sending import (
    SendChoice,
    consents_on_file,
    referrals_for_send_key,
    send_choices,
)
from referrals.services.sending import ConsentGiven, Target, referrals_send_with_consent
from referrals.views.referral import acting_organization

CATEGORY_NAMES = NEED_LABELS
MAX_ID = 2**63 - 1  # the largest id a database key holds


@require_http_methods(["GET", "POST"])
@member_required
def referral_new(request: TenantRequest) -> HttpResponse:
    clinic = _sending_clinic(request)
    data = request.POST if request.method == "POST" else request.GET
    ids = _service_ids(data.getlist("service"))
    if not ids and request.method == "GET":
        messages.info(request, _("Choose one or more services in the search first."))
        return redirect(_search_url(data.get("client")))
    choices = send_choices(user=request.user, organization=clinic, service_ids=ids)
    if len(choices) != len(ids):  # another network's service, unpublished, or no service
        raise Http404
    clients = clients_visible(user=request.user, organization=clinic).order_by(
        "last_name", "first_name", "pk"
    )
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = ReferralSendForm(request.POST, request.FILES, clients=clients)
        valid = form.is_valid()
        errors.update(
            {field: [str(p) for p in problems] for field, problems in form.errors.items()}
        )
        client = form.cleaned_data.get("client")
        categories = list(form.cleaned_data.get("categories") or [])
    else:
        form = ReferralSendForm(clients=clients)
        valid = False
        client = _preselected(clients, data.get("client"))
        asked = [code for code in data.getlist("categories") if code in CATEGORY_NAMES]
        categories = asked or sorted({code for c in choices for code in c.categories})
    consent = _consent_state(request, clinic, choices, client, categories, data)
    if request.method == "POST" and data.get("action") == "check":
        errors = {}  # only re-reading what is on file for the client and needs chosen
    elif request.method == "POST" and valid:
        sent = _send(request, clinic, form, choices, consent, errors)
        if sent:
            names = ", ".join(dict.fromkeys(r.agency.name for r in sent))
            messages.success(
                request,
                ngettext(
                    "Referral sent to %(agencies)s.", "Referrals sent to %(agencies)s.", len(sent)
                )
                % {"agencies": names},
            )
            unstaffed = {c.agency.pk for c in choices if c.agency and not c.has_receivers}
            unread = list(dict.fromkeys(r.agency.name for r in sent if r.agency_id in unstaffed))
            if unread:
                messages.warning(
                    request,
                    _(
                        "Nobody at %(agencies)s is set up to receive referrals yet: the "
                        "agency's and the network's administrators were told. Call the agency "
                        "if the need is urgent."
                    )
                    % {"agencies": ", ".join(unread)},
                )
            if len(sent) == 1:
                return redirect("referrals:referral_detail", pk=sent[0].pk)
            return redirect("referrals:referral_tracker")
    return render(
        request,
        "referrals/referral_new.html",
        {
            "choices": choices,
            "rows": _rows(choices, data, consent["on_file"] if client else None),
            "sendable_count": sum(c.sendable for c in choices),
            "clients": clients,
            "client": client,
            "categories": NEED_CHOICES,
            "checked": set(categories),
            "urgencies": Urgency.choices,
            "urgency": data.get("urgency") or Urgency.ROUTINE,
            "note": data.get("note", ""),
            "consent": consent,
            "errors": errors,
            "search_url": _search_url(client.pk if client else data.get("client")),
            "idempotency_key": data.get("idempotency_key") or uuid.uuid4().hex,
        },
        status=400 if errors else 200,
    )


def _send(
    request: TenantRequest,
    clinic: Organization,
    form: ReferralSendForm,
    choices: Sequence[SendChoice],
    consent: dict[str, Any],
    errors: dict[str, list[str]],
) -> list[Referral]:
    """Check the form against what is on file, then send with the consent given on it (if any),
    in one transaction; on any refusal nothing is written and ``errors`` says why."""
    cleaned = form.cleaned_data
    client: Client = cleaned["client"]
    key = cleaned["idempotency_key"]
    targets = _targets(choices, request.POST, errors)
    # The same form sent again: its referrals exist, and its consent was recorded with them.
    replay = referrals_for_send_key(
        user=request.user, organization=clinic, idempotency_key=key
    ).exists()
    if not choices:
        errors.setdefault("service", []).append(_("Choose at least one service."))
    if not replay:
        for choice in choices:
            if not choice.sendable:
                errors.setdefault("service", []).append(refusal_message(choice))
        if form.records_consent:
            if cleaned["consent"] == ConsentMethod.VERBAL and (
                cleaned.get("script_digest") != consent["digest"]
            ):
                errors.setdefault("attestation", []).append(
                    _(
                        "The needs or the organizations changed after the consent wording was "
                        "shown. Read the wording below to the client and confirm again."
                    )
                )
        else:
            for agency in consent["agencies"]:
                if agency.pk not in consent["on_file"]:
                    errors.setdefault("consent", []).append(
                        _(
                            "No active consent lets %(client)s's information go to %(agency)s "
                            "for these needs. Record the client's consent below."
                        )
                        % {"client": client.full_name, "agency": agency.name}
                    )
    if errors:
        return []
    given = None
    if form.records_consent:
        given = ConsentGiven(
            method=cleaned["consent"],
            whole_network=cleaned["whole_network"],
            recipients=consent["agencies"],
            attestation=consent["script"],
            signature=cleaned.get("signature") or "",
            signed_form=cleaned.get("signed_form"),
        )
    try:
        return referrals_send_with_consent(
            client=client,
            by=request.user,
            sender=clinic,
            targets=targets,
            categories=cleaned["categories"],
            idempotency_key=key,
            consent=given,
            urgency=cleaned["urgency"],
            note=cleaned.get("note") or "",
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, problems in exc.message_dict.items():
                errors.setdefault(field, []).extend(problems)
        else:
            errors.setdefault("__all__", []).extend(exc.messages)
    except ReferralError as exc:
        errors.setdefault("__all__", []).append(str(exc))
    return []


def _sending_clinic(request: TenantRequest) -> Organization:
    clinic = acting_organization(request)
    if not clinic.sends_referrals or not user_has_org_perm(
        request.user, OrgPerm.SEND_REFERRALS, clinic, checker=request.permission_checker
    ):
        raise PermissionDenied(_("Only clinic staff send referrals."))
    return clinic


def _service_ids(values: list[str]) -> list[int]:
    """The chosen service ids, each once, in order; anything but a number is not found."""
    if any(not v.isdigit() or int(v) > MAX_ID for v in values):
        raise Http404
    return list(dict.fromkeys(int(v) for v in values))


def _preselected(clients: QuerySet[Client], value: str | None) -> Client | None:
    if not (value or "").isdigit() or int(value or 0) > MAX_ID:
        return None
    return clients.filter(pk=int(value or 0)).first()


def _search_url(client: int | str | None) -> str:
    url = reverse("referrals:search")
    return f"{url}?{urlencode({'client': client})}" if client else url


def _consent_state(
    request: TenantRequest,
    clinic: Organization,
    choices: Sequence[SendChoice],
    client: Client | None,
    categories: list[str],
    data: QueryDict,
) -> dict[str, Any]:
    """What the consent part of the page shows: the consents on file for each agency, the
    wording to read, and whether a sensitive need is among those chosen."""
    agencies = list(
        {c.agency.pk: c.agency for c in choices if c.sendable and c.agency is not None}.values()
    )
    on_file: dict[int, Consent] = {}
    if client is not None and categories:
        on_file = consents_on_file(
            user=request.user,
            organization=clinic,
            client=client,
            agencies=agencies,
            categories=categories,
        )
    whole_network = data.get("whole_network") in {"1", "on", "true"}
    # Read in the client's language when we know it (staff may switch).
    language = script_language(
        preferred=client.preferred_language if client is not None else "",
        chosen=data.get("script_language"),
    )
    script = verbal_consent_script(
        clinic=clinic.name,
        recipients=[] if whole_network else [a.name for a in agencies],
        needs=categories,
        language=language,
    )
    covered = bool(agencies) and all(a.pk in on_file for a in agencies)
    chosen = data.get("consent") or ""
    return {
        "agencies": agencies,
        "on_file": on_file,
        "covered": covered,
        "shown": [_on_file(c) for c in {c.pk: c for c in on_file.values()}.values()],
        "choice": chosen or (ReferralSendForm.ON_FILE if covered else ""),
        "script": script,
        "script_language": language,
        "script_languages": script_languages(),
        "digest": hashlib.sha256(script.encode()).hexdigest()[:32],
        "whole_network": whole_network,
        "signature": data.get("signature", ""),
        "sensitive": bool(clinic.network.sensitive_category_codes() & set(categories)),
        "consent_days": clinic.network.consent_days,
    }


def _on_file(consent: Consent) -> dict[str, Any]:
    """A consent on file as the page states it: how, when, to whom, for what."""
    return {
        "method": consent.get_method_display(),
        "granted_at": consent.granted_at,
        "expires_at": consent.expires_at,
        "scope": (
            _("any agency of the network")
            if consent.whole_network
            else ", ".join(org.name for org in consent.recipients.all())
        ),
        "needs": ", ".join(need_label(code) for code in consent.categories),
    }


def _rows(
    choices: Sequence[SendChoice],
    data: QueryDict,
    on_file: dict[int, Consent] | None,
) -> list[dict[str, Any]]:
    """One row per chosen service: the location picked (``location-<service>``, or the search
    hit's ``location``) and whether consent is on file for its agency (None: no client yet)."""
    hit_location = data.get("location", "")
    rows = []
    for choice in choices:
        picked = data.get(f"location-{choice.service.pk}", hit_location)
        rows.append(
            {
                "choice": choice,
                "refusal": refusal_message(choice) if not choice.sendable else "",
                "unreceived": (
                    unreceived_warning(choice)
                    if choice.sendable and not choice.has_receivers
                    else ""
                ),
                "location": picked if picked.isdigit() else "",
                "consented": (
                    None
                    if on_file is None or choice.agency is None
                    else choice.agency.pk in on_file
                ),
            }
        )
    return rows


def _targets(
    choices: Sequence[SendChoice], data: QueryDict, errors: dict[str, list[str]]
) -> list[Target]:
    """Where the referrals go: each chosen service at the location picked for it, if any."""
    targets = []
    for choice in choices:
        value = data.get(f"location-{choice.service.pk}", "")
        location = next((loc for loc in choice.locations if str(loc.pk) == value), None)
        if value and location is None:
            errors.setdefault("location", []).append(
                _("%(service)s is not offered at this location.") % {"service": choice.service}
            )
        targets.append(Target(service=choice.service, location=location))
    return targets


def refusal_message(choice: SendChoice) -> str:
    """Why this service cannot take an electronic referral, in words (each reason its own)."""
    names = {
        "agency": choice.agency.name if choice.agency else choice.service.title,
        "service": choice.service.title,
    }
    reason = choice.refusal
    if reason == "no-agency":
        return (
            _("%(service)s is not linked to an agency in this network: contact it directly.")
            % names
        )
    if reason == "agency-inactive":
        return _("%(agency)s no longer takes referrals in this network: contact it directly.") % (
            names
        )
    if reason == "agency-not-receiving":
        return _("%(agency)s does not receive electronic referrals: contact it directly.") % names
    if reason == "contact-directly":
        return (
            _(
                "%(agency)s asks to be contacted directly for %(service)s: this service takes no "
                "electronic referrals."
            )
            % names
        )
    return (
        _("%(agency)s has no data-sharing agreement in force for %(service)s: contact it directly.")
        % names
    )


def unreceived_warning(choice: SendChoice) -> str:
    """The warning for a service whose agency has nobody who may receive referrals."""
    return _(
        "Nobody at %(agency)s is set up to receive referrals yet, so this one may go unread. "
        "If you send it, the agency's and the network's administrators are told."
    ) % {"agency": choice.agency.name if choice.agency else choice.service.title}
