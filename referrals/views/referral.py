"""Referral pages for both sides: the referral as the acting organization may see it, its
timeline, and the status changes and messages the acting side may make."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from cms import languages
from cms.client_address import client_ip
from consent.models import AccessPurpose, ClientField
from network.decorators import member_required
from network.middleware import TenantRequest
from network.models import Organization
from referrals.disclosure import disclosure_for, fields_disclosed
from referrals.errors import ReferralError, StaleVersion, TransitionNotAllowed
from referrals.lifecycle import (
    OUTCOME_OWED,
    OUTCOME_REQUIRED,
    REASON_CODE_REQUIRED,
    REASON_REQUIRED,
    Side,
    allowed_next,
)
from referrals.models import ReasonCode, Referral, ReferralOutcome, ReferralStatus
from referrals.selectors.referrals import referrals_visible
from referrals.services import transitions

S = ReferralStatus
REFUSED_SESSION_KEY = "handoff_referral_refused"


class TransitionAction(NamedTuple):
    """One status change the page offers: the lifecycle's facts plus the words on its form."""

    to: str
    label: str
    needs_reason: bool
    needs_outcome: bool
    needs_reason_code: bool
    reason_code_label: str
    button: str
    reason_label: str
    danger: bool


NO_FIELD = ""  # the change takes no reason
# The words of each change, in the order the page offers them (the lifecycle decides which):
# button, the reason field's label, whether it undoes or ends the referral.
ACTION_WORDS: dict[str, tuple[Promise, Promise | str, bool]] = {
    S.ACCEPTED: (gettext_lazy("Accept"), NO_FIELD, False),
    S.IN_PROGRESS: (gettext_lazy("Start work"), NO_FIELD, False),
    S.ON_HOLD: (
        gettext_lazy("Put on hold"),
        gettext_lazy("What are you waiting for? (the clinic sees this)"),
        False,
    ),
    S.COMPLETED: (gettext_lazy("Mark completed"), NO_FIELD, False),
    S.FAILED: (
        gettext_lazy("Close: could not help"),
        gettext_lazy("What happened? (required for “Other”; the clinic sees this)"),
        True,
    ),
    S.REJECTED: (
        gettext_lazy("Decline"),
        gettext_lazy("Why are you declining? (required for “Other”; the clinic sees this)"),
        True,
    ),
    S.CANCELLED: (
        gettext_lazy("Cancel the referral"),
        gettext_lazy("Why is it cancelled? (the other side sees this)"),
        True,
    ),
    S.ENTERED_IN_ERROR: (
        gettext_lazy("Mark as entered in error"),
        gettext_lazy("What was wrong? (optional)"),
        True,
    ),
}

# What a refused change tells the person, by refusal code (the lifecycle's own texts are for logs).
REASON_MISSING: dict[str, Promise] = {
    S.REJECTED: gettext_lazy("Say why you are declining: the clinic needs it to find other help."),
    S.ON_HOLD: gettext_lazy("Say what the referral is waiting for."),
    S.FAILED: gettext_lazy("Say what happened, so the clinic can follow up."),
    S.CANCELLED: gettext_lazy("Say why the referral is cancelled."),
}
# The coded reason's field, on the decline and failure forms.
REASON_CODE_LABELS: dict[str, Promise] = {
    S.REJECTED: gettext_lazy("Reason for declining"),
    S.FAILED: gettext_lazy("Why it could not be completed"),
}


def acting_organization(request: TenantRequest) -> Organization:
    if request.organization is None:
        raise PermissionDenied(_("Choose one of your organizations first."))
    return request.organization


def visible_referral(request: TenantRequest, pk: int) -> Referral:
    """The referral if the acting organization sent or received it; 404 for anyone else
    (network admins too: they act for no organization)."""
    if request.organization is None:
        raise Http404
    organization = request.organization
    return get_object_or_404(
        referrals_visible(user=request.user, organization=organization).select_related(
            "client", "sender", "agency", "consent__network", "agreement", "sent_by"
        ),
        pk=pk,
    )


@require_GET
@member_required
def referral_detail(request: TenantRequest, pk: int) -> HttpResponse:
    referral = visible_referral(request, pk)
    refused = request.session.pop(REFUSED_SESSION_KEY, None)
    if not isinstance(refused, dict) or refused.get("referral") != referral.pk:
        return detail_response(request, referral)
    return detail_response(
        request,
        referral,
        refused=(str(refused.get("to", "")), str(refused.get("why", ""))),
        posted={
            "outcome": str(refused.get("outcome", "")),
            "reason_code": str(refused.get("reason_code", "")),
        },
    )


def language_name(code: str) -> str:
    """A language code as people read it: “Spanish — Español”, “Hmong — Hmoob”; never the code
    unless no language has it."""
    name = languages.language_name(code)
    local = languages.language_name(code, code)
    return f"{name} — {local}" if local and local != name and local != code else name


def transition_actions(referral: Referral, side: Side) -> list[TransitionAction]:
    """The changes ``side`` may make now, in the order people decide them."""
    allowed = allowed_next(referral.status, side)
    actions = []
    for to, (button, reason_label, danger) in ACTION_WORDS.items():
        if to not in allowed:
            continue
        if to == S.IN_PROGRESS and referral.status == S.ON_HOLD:
            button = gettext_lazy("Resume work")
        actions.append(
            TransitionAction(
                to=to,
                label=str(ReferralStatus(to).label),
                # A coded reason stands for the words, except "other" (checked when posted).
                needs_reason=to in REASON_REQUIRED and to not in REASON_CODE_REQUIRED,
                needs_outcome=to in OUTCOME_REQUIRED,
                needs_reason_code=to in REASON_CODE_REQUIRED,
                reason_code_label=str(REASON_CODE_LABELS.get(to, "")),
                button=str(button),
                reason_label=str(reason_label),
                danger=danger,
            )
        )
    return actions


def detail_response(
    request: TenantRequest,
    referral: Referral,
    status: int = 200,
    refused: tuple[str, str] | None = None,
    posted: dict[str, str] | None = None,
) -> HttpResponse:
    """The referral page as the acting organization may see it (also the answer to a stale
    change, with 409, so the person sees what changed).

    ``refused`` is (status asked for, why) of a change just refused, shown in that change's
    form with what was ``posted`` in it.
    """
    organization = acting_organization(request)
    context = referral_shown(request, referral, organization, purpose=AccessPurpose.VIEW)
    side = Side(context["side"])
    # The clinic is told before it writes when the agency may not read its words now.
    agency_reads_words = side == Side.RECIPIENT or ClientField.NOTE in fields_disclosed(
        [referral], referral.agency, at=context["now"]
    ).get(referral.pk, frozenset())
    return render(
        request,
        "referrals/referral_detail.html",
        {
            **context,
            "agency_reads_words": agency_reads_words,
            "next_statuses": transition_actions(referral, side),
            "outcomes": ReferralOutcome.choices,
            "reason_codes": ReasonCode.choices,
            "refused": refused,
            "posted": posted or {},
            "refer_elsewhere": side == Side.SENDER and referral.status in (S.REJECTED, S.FAILED),
        },
        status=status,
    )


def referral_shown(
    request: TenantRequest, referral: Referral, organization: Organization, *, purpose: str
) -> dict[str, Any]:
    """What the referral page and its printout show of ``referral`` to the acting
    organization: the disclosure (logged for ``purpose``), the client's rows, the due date."""
    side = Side.SENDER if organization.pk == referral.sender_id else Side.RECIPIENT
    if side == Side.RECIPIENT:
        transitions.referral_viewed(referral=referral, by=request.user, organization=organization)
    # The client's fields and every free text on the page (note, reasons, timeline) come from
    # the disclosure, never from the referral itself.
    disclosure = disclosure_for(
        referral,
        organization,
        user=request.user,
        purpose=purpose,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    labels = dict(ClientField.choices)
    status_labels = {code: str(label) for code, label in ReferralStatus.choices}
    language = disclosure.client.get(ClientField.PREFERRED_LANGUAGE) or ""
    now = timezone.now()
    due_at = None
    if referral.status == S.REQUESTED:
        due_at = referral.response_due_at
    elif referral.status in OUTCOME_OWED:
        due_at = referral.outcome_due_at
    return {
        "referral": referral,
        "side": side.value,
        "disclosure": disclosure,
        "client_rows": [
            (
                labels[code],
                language_name(value) if code == ClientField.PREFERRED_LANGUAGE and value else value,
            )
            for code, value in disclosure.client.items()
        ],
        "client_language": language_name(language) if language else "",
        "timeline": disclosure.timeline,
        # Each entry with the status it set, in words (never the code).
        "timeline_rows": [
            (entry, status_labels.get(entry.event.to_status, "")) for entry in disclosure.timeline
        ],
        "due_at": due_at,
        "overdue": due_at is not None and due_at < now,
        "now": now,
    }


@require_GET
@member_required
def referral_print(request: TenantRequest, pk: int) -> HttpResponse:
    """The referral on paper for either side: what the referral page shows the acting
    organization, without the page's navigation and forms, logged as a disclosure for printing."""
    referral = visible_referral(request, pk)
    organization = acting_organization(request)
    context = referral_shown(request, referral, organization, purpose=AccessPurpose.PRINT)
    return render(request, "referrals/referral_print.html", context)


def refusal_message(
    exc: TransitionNotAllowed, to: str, referral: Referral, reason_code: str | None = None
) -> str:
    """What a refused change tells the person: what to fix, or why it cannot be made."""
    if exc.code == "reason_required" and reason_code == ReasonCode.OTHER:
        return _("You chose “Other”: say in a few words why, so the clinic can follow up.")
    if exc.code == "reason_required" and to in REASON_MISSING:
        return str(REASON_MISSING[to])
    if exc.code == "reason_code_required":
        return _("Choose a reason from the list: the clinic and the network count them.")
    if exc.code == "bad_reason_code":
        return _("Choose one of the reasons in the list.")
    if exc.code == "outcome_required":
        return _("Choose an outcome: it tells the clinic how the referral ended.")
    if exc.code == "bad_outcome":
        return _("Choose one of the outcomes in the list.")
    if exc.code == "wrong_side":
        return _("This change is for the other side of the referral to make.")
    if exc.code == "unknown_status":
        return _("That is not a change this page offers; reload the page and choose again.")
    return _("This change is not possible now: the referral is %(status)s.") % {
        "status": referral.get_status_display().lower()
    }


@require_POST
@member_required
def referral_transition(request: TenantRequest, pk: int) -> HttpResponse:
    referral = visible_referral(request, pk)
    to = request.POST.get("to", "")
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        messages.error(request, _("The form was incomplete; reload the page and retry."))
        return redirect("referrals:referral_detail", pk=pk)
    try:
        transitions.referral_transition(
            referral=referral,
            to=to,
            by=request.user,
            organization=acting_organization(request),
            version=version,
            reason=request.POST.get("reason", ""),
            outcome=request.POST.get("outcome", ""),
            outcome_note=request.POST.get("outcome_note", ""),
            # The decline and failure forms always post it; a form without the field (a page
            # older than coded reasons) declines with words only, coded "other".
            reason_code=request.POST.get("reason_code"),
        )
    except StaleVersion as exc:
        messages.error(
            request,
            _("Your change was not saved. %(why)s") % {"why": exc},
        )
        # Rendered from the current row, not the stale copy this request read.
        return detail_response(request, visible_referral(request, pk), status=409)
    except TransitionNotAllowed as exc:
        why = refusal_message(exc, to, referral, request.POST.get("reason_code"))
        messages.error(request, _("Nothing was changed. %(why)s") % {"why": why})
        # The page opens that change's form again with the reason beside it (no free text is
        # kept: a reason may name the client).
        outcome = request.POST.get("outcome", "")
        reason_code = request.POST.get("reason_code", "")
        request.session[REFUSED_SESSION_KEY] = {
            "referral": referral.pk,
            "to": to,
            "why": why,
            "outcome": outcome if outcome in ReferralOutcome.values else "",
            "reason_code": reason_code if reason_code in ReasonCode.values else "",
        }
        return redirect("referrals:referral_detail", pk=pk)
    except ReferralError as exc:
        messages.error(request, str(exc))
        return redirect("referrals:referral_detail", pk=pk)
    messages.success(
        request,
        _("The referral is now %(status)s.")
        % {"status": ReferralStatus(referral.status).label.lower()},
    )
    return redirect("referrals:referral_detail", pk=pk)


@require_POST
@member_required
def referral_message(request: TenantRequest, pk: int) -> HttpResponse:
    referral = visible_referral(request, pk)
    try:
        transitions.referral_message(
            referral=referral,
            by=request.user,
            organization=acting_organization(request),
            text=request.POST.get("text", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Message sent."))
    return redirect("referrals:referral_detail", pk=pk)
