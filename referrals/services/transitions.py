"""What happens to a referral after it is sent: status changes from the lifecycle table,
messages, the agency opening it, and the end of the consent that covered it."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from network.models import (
    Organization,
    User,
)
from network.permissions import (
    OrgPerm,
    user_has_org_perm,
)
from referrals.changes import dashboard_changed
from referrals.errors import StaleVersion, TransitionNotAllowed
from referrals.lifecycle import (
    OUTCOME_REQUIRED,
    REASON_CODE_REQUIRED,
    TERMINAL,
    Refusal,
    Side,
    reason_code_given,
    transition_refusal,
)
from referrals.models import (
    EventKind,
    Referral,
    ReferralEvent,
    ReferralOutcome,
    ReferralStatus,
)
from referrals.notification_texts import consent_ended_texts, message_texts, status_texts
from referrals.services.notifications import agency_recipients, notify, sender_recipients
from referrals.services.timeline import event_add


def _side(referral: Referral, by: User, organization: Organization) -> Side:
    """Which side of the referral ``by`` acts for, checking their permission there."""
    if organization.pk == referral.sender_id and user_has_org_perm(
        by, OrgPerm.SEND_REFERRALS, organization
    ):
        return Side.SENDER
    if organization.pk == referral.agency_id and user_has_org_perm(
        by, OrgPerm.RECEIVE_REFERRALS, organization
    ):
        return Side.RECIPIENT
    raise PermissionDenied(_("You cannot act on this referral."))


def referral_transition(
    *,
    referral: Referral,
    to: str,
    by: User,
    organization: Organization,
    version: int,
    reason: str = "",
    outcome: str = "",
    outcome_note: str = "",
    reason_code: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """Apply one status change from the lifecycle table, or refuse.

    A decline or a failure carries ``reason_code`` (a ``ReasonCode``; the free-text ``reason``
    is then optional except for "other"); any other change none. A caller that does not code
    reasons passes None: its decline or failure with words is coded "other"
    (``lifecycle.reason_code_given``).

    PermissionDenied for the wrong organization or role; TransitionNotAllowed when the table,
    the side, a missing reason or outcome forbid it; StaleVersion (with the current state) when
    ``version`` is not the referral's version. The change, its event and its notifications are
    written together or not at all.
    """
    side = _side(referral, by, organization)
    now = now or timezone.now()
    with transaction.atomic():
        current = Referral.objects.select_for_update().get(pk=referral.pk)
        if current.version != version:
            raise StaleVersion(current)
        before = current.status
        reason, outcome_note = reason.strip(), outcome_note.strip()
        code = reason_code_given(to, reason_code, reason)
        refusal = transition_refusal(
            current.status, to, side, reason=reason, outcome=outcome, reason_code=code
        )
        if refusal is not None:
            raise TransitionNotAllowed(refusal)
        if outcome and (to not in OUTCOME_REQUIRED or outcome not in ReferralOutcome.values):
            raise TransitionNotAllowed(
                Refusal("bad_outcome", _("“%(code)s” is not an outcome here.") % {"code": outcome})
            )
        changes: dict[str, Any] = {
            "status": to,
            "status_reason": reason,
            "reason_code": (code or "") if to in REASON_CODE_REQUIRED else "",
            "version": version + 1,
            "updated_at": now,
        }
        if to in OUTCOME_REQUIRED:
            changes.update(outcome=outcome, outcome_note=outcome_note)
        if current.status == ReferralStatus.REQUESTED and to in {
            ReferralStatus.ACCEPTED,
            ReferralStatus.REJECTED,
        }:
            changes["responded_at"] = now
        if to == ReferralStatus.ACCEPTED:
            changes["outcome_due_at"] = now + timedelta(days=current.agreement.outcome_days)
        if to in TERMINAL:
            changes["closed_at"] = now
        # The version in the WHERE clause makes the check hold even where rows cannot be locked.
        if not Referral.objects.filter(pk=current.pk, version=version).update(**changes):
            raise StaleVersion(Referral.objects.get(pk=current.pk))
        dashboard_changed(current.network_id)
        for name, value in changes.items():
            setattr(current, name, value)
        # The timeline says how it ended and why in words: the outcome's and the reason code's
        # labels, then the free text.
        code_label = current.get_reason_code_display() if current.reason_code else ""
        outcome_label = current.get_outcome_display() if outcome else ""
        note = outcome_note if outcome else ""
        text = " — ".join(p for p in (outcome_label, code_label, note, reason) if p)
        event_add(
            current,
            EventKind.STATUS,
            at=now,
            actor=by,
            organization=organization,
            from_status=before,
            to_status=to,
            text=text,
        )
        recipients = (
            sender_recipients(current) if side == Side.RECIPIENT else agency_recipients(current)
        )
        notify(
            recipients,
            referral=current,
            kind=f"referral_{to}",
            texts=partial(
                status_texts, current, organization, to, outcome or "", current.reason_code
            ),
        )
    referral.__dict__.update({k: v for k, v in current.__dict__.items() if not k.startswith("_")})
    return current


def referral_message(
    *, referral: Referral, by: User, organization: Organization, text: str
) -> ReferralEvent:
    """A message between the clinic and the agency on the referral's timeline."""
    side = _side(referral, by, organization)
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write a message.")})
    if len(text) > 5000:
        raise ValidationError({"text": _("Keep the message under 5,000 characters.")})
    with transaction.atomic():
        event = event_add(
            referral,
            EventKind.MESSAGE,
            at=timezone.now(),
            actor=by,
            organization=organization,
            text=text,
        )
        recipients = (
            sender_recipients(referral) if side == Side.RECIPIENT else agency_recipients(referral)
        )
        notify(
            recipients,
            referral=referral,
            kind="referral_message",
            texts=partial(message_texts, referral, organization),
        )
    return event


def referral_viewed(*, referral: Referral, by: User, organization: Organization) -> bool:
    """Record the agency opening the referral (once per person); True if it was recorded."""
    if organization.pk != referral.agency_id:
        return False
    if ReferralEvent.objects.filter(referral=referral, kind=EventKind.VIEWED, actor=by).exists():
        return False
    event_add(referral, EventKind.VIEWED, at=timezone.now(), actor=by, organization=organization)
    return True


def referrals_consent_revoked(*, consent: Any, by: User, **kwargs: Any) -> None:
    """Receiver of ``consent.signals.consent_revoked``: the revocation reaches the referrals."""
    referrals_consent_withdrawn(consent=consent, by=by, expired=False)


def referrals_consent_withdrawn(*, consent: Any, by: User | None, expired: bool) -> int:
    """Put the consent's end on the timeline of every open referral it covered and tell the
    agency to stop using the client's data; how many referrals."""
    open_referrals = list(
        Referral.objects.filter(consent=consent)
        .exclude(status__in=TERMINAL)
        .select_related("agency")
    )
    kind = EventKind.CONSENT_EXPIRED if expired else EventKind.CONSENT_REVOKED
    now = timezone.now()
    for referral in open_referrals:
        event_add(referral, kind, at=now, actor=by, organization=None)
        notify(
            agency_recipients(referral) + sender_recipients(referral),
            referral=referral,
            kind=f"referral_{kind}",
            texts=partial(consent_ended_texts, referral),
        )
    return len(open_referrals)
