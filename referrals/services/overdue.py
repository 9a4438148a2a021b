"""The overdue sweep: reminders, escalation with alternative agencies, outcome reminders and
expired consents, each step taken once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from consent.models import Consent
from directory.models import AgencyPage
from network.models import (
    Role,
    User,
)
from referrals.deadlines import business_hours_after
from referrals.lifecycle import (
    OUTCOME_OWED,
    TERMINAL,
)
from referrals.models import (
    EventKind,
    Referral,
    ReferralStatus,
)
from referrals.notification_texts import (
    answer_due_texts,
    escalation_text,
    outcome_overdue_texts,
    overdue_texts,
)
from referrals.services.notifications import agency_recipients, notify, sender_recipients
from referrals.services.timeline import event_add
from referrals.services.transitions import referrals_consent_withdrawn
from search.models import SearchDocument
from search.query import Near, SearchQuery
from search.selectors import service_search

ESCALATE_AFTER_HOURS = 4  # business hours past the answer deadline
ALTERNATIVES = 3

logger = logging.getLogger(__name__)


def referrals_overdue_process(*, now: datetime) -> dict[str, int]:
    """One pass of the scheduled sweep (see ``_overdue_process``), in the site's language: the
    timeline lines it writes are the system's, whoever's request happened to run it (the
    notifications it sends are each in their reader's language)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _overdue_process(now=now)


def _overdue_process(*, now: datetime) -> dict[str, int]:
    """One pass of the scheduled sweep; counts of what it did.

    * ``reminded``: agencies reminded when three quarters of the answer window has passed (not
      once the deadline itself has passed: then the next step says so);
    * ``due``: reminded again at the deadline;
    * ``escalated``: still unanswered ``ESCALATE_AFTER_HOURS`` business hours after it: the
      network admins and the sender are told, with other agencies for the same need;
    * ``outcome``: accepted referrals past the agreement's outcome window;
    * ``consent``: open referrals whose consent expired (timeline and both sides told).

    Each step is taken once per referral (its timestamp field), so overlapping sweeps are safe.
    A step that fails is logged and left whole for the next sweep; the others go on.
    """
    counts = dict.fromkeys(("reminded", "due", "escalated", "outcome", "consent"), 0)
    waiting = Referral.objects.filter(status=ReferralStatus.REQUESTED).select_related(
        "agency", "sender", "network"
    )
    for referral in waiting.filter(reminded_at__isnull=True, response_due_at__gt=now):
        due = referral.response_due_at
        if due is None:  # excluded by the query; said again for the type checker
            continue
        window = due - (referral.sent_at or referral.created_at)
        if now >= due - window / 4:
            counts["reminded"] += _step(
                referral, "reminded_at", now, partial(_reminder, referral, now, due=False)
            )
    for referral in waiting.filter(due_reminded_at__isnull=True, response_due_at__lte=now):
        counts["due"] += _step(
            referral, "due_reminded_at", now, partial(_reminder, referral, now, due=True)
        )
    for referral in waiting.filter(escalated_at__isnull=True, response_due_at__lte=now):
        due = referral.response_due_at
        if due is None:  # excluded by the query; said again for the type checker
            continue
        tz = ZoneInfo(referral.network.time_zone)
        if now >= business_hours_after(due, ESCALATE_AFTER_HOURS, tz):
            # Searched before the step's transaction, which holds the referral's row lock.
            alternatives = _alternatives_or_none(referral, now)
            counts["escalated"] += _step(
                referral, "escalated_at", now, partial(_escalate, referral, now, alternatives)
            )
    owed = Referral.objects.filter(
        status__in=OUTCOME_OWED,
        outcome_reminded_at__isnull=True,
        outcome_due_at__lte=now,
    ).select_related("agency", "sender")
    for referral in owed:
        counts["outcome"] += _step(
            referral, "outcome_reminded_at", now, partial(_outcome_reminder, referral, now)
        )
    # order_by(): the default ordering's columns would make DISTINCT one row per referral.
    expired = (
        _consent_expired_unrecorded(now).order_by().values_list("consent_id", flat=True).distinct()
    )
    for consent_id in list(expired):
        try:
            with transaction.atomic():
                counts["consent"] += _consent_expired(consent_id, now)
        except Exception:
            logger.exception("recording the expiry of consent %s failed; next sweep", consent_id)
    return counts


def _step(referral: Referral, field: str, now: datetime, action: Callable[[], None]) -> int:
    """Claim one step and take it in one transaction: 1 if taken now, 0 if another sweep (or a
    status change) got there first or it failed (logged; the next sweep tries again)."""
    try:
        with transaction.atomic():
            if not _mark(referral, field, now):
                return 0
            action()
    except Exception:
        logger.exception("overdue step %s of referral %s failed; next sweep", field, referral.pk)
        return 0
    return 1


def _mark(referral: Referral, field: str, now: datetime) -> bool:
    """Claim one step for this sweep: False if another sweep (or a status change) got there."""
    claimed = Referral.objects.filter(
        pk=referral.pk, status=referral.status, **{f"{field}__isnull": True}
    ).update(**{field: now})
    return bool(claimed)


def _consent_expired_unrecorded(now: datetime) -> Any:
    return (
        Referral.objects.exclude(status__in=TERMINAL)
        .filter(consent__expires_at__lte=now, consent__revoked_at__isnull=True)
        .exclude(events__kind=EventKind.CONSENT_EXPIRED)
    )


def _consent_expired(consent_id: int, now: datetime) -> int:
    """Record one consent's expiry on its open referrals, under the consent's row lock so that
    overlapping sweeps record it once."""

    consent = Consent.objects.select_for_update().get(pk=consent_id)
    if not _consent_expired_unrecorded(now).filter(consent=consent).exists():
        return 0  # another sweep recorded it while this one waited for the lock
    return referrals_consent_withdrawn(consent=consent, by=None, expired=True)


def _reminder(referral: Referral, now: datetime, *, due: bool) -> None:
    event_add(
        referral,
        EventKind.REMINDER,
        at=now,
        actor=None,
        organization=None,
        text=str(_("Answer due now") if due else _("Answer due soon")),
    )
    notify(
        agency_recipients(referral),
        referral=referral,
        kind="referral_due" if due else "referral_due_soon",
        texts=partial(answer_due_texts, referral, due=due),
    )


def _outcome_reminder(referral: Referral, now: datetime) -> None:
    event_add(
        referral,
        EventKind.REMINDER,
        at=now,
        actor=None,
        organization=None,
        text=str(_("Outcome overdue")),
    )
    notify(
        agency_recipients(referral),
        referral=referral,
        kind="referral_outcome_overdue",
        texts=partial(outcome_overdue_texts, referral, referral.sender),
    )


def _alternatives_or_none(referral: Referral, now: datetime) -> list[Any]:
    """The suggestions, or none when the search fails: the escalation matters more."""
    try:
        return referral_alternatives(referral=referral, now=now)
    except Exception:
        logger.exception("no alternatives for overdue referral %s: the search failed", referral.pk)
        return []


def _escalate(referral: Referral, now: datetime, alternatives: list[Any]) -> None:
    names = [f"{hit.service_name} ({hit.agency_name})" for hit in alternatives]
    admins = User.objects.filter(
        is_active=True,
        memberships__network_id=referral.network_id,
        memberships__role=Role.NETWORK_ADMIN,
    )
    event_add(
        referral,
        EventKind.ESCALATION,
        at=now,
        actor=None,
        organization=None,
        text=escalation_text(names),
    )
    notify(
        [*admins, *sender_recipients(referral)],
        referral=referral,
        kind="referral_overdue",
        texts=partial(overdue_texts, referral, referral.agency, names),
    )


def referral_alternatives(*, referral: Referral, now: datetime) -> list[Any]:
    """Other services for the referral's needs near its location, accepting referrals, from
    other agencies: what the sender is offered when the agency does not answer."""

    near = None
    # Near the chosen location, else near any place of the service: "the whole network" could
    # suggest a pantry in another county. Only a service without places searches everywhere.
    places = SearchDocument.objects.filter(service_id=referral.service_id).exclude(latitude=None)
    if referral.location_id is not None:
        places = places.filter(location_id=referral.location_id)
    point = places.order_by("pk").values_list("latitude", "longitude").first()
    if point is not None:
        latitude, longitude = point
        if latitude is not None and longitude is not None:
            near = Near(latitude=float(latitude), longitude=float(longitude), label="")
    query = SearchQuery(
        categories=tuple(referral.categories),
        near=near,
        radius_miles=25.0 if near else None,
        accepting_only=True,
        page_size=ALTERNATIVES + 5,
    )

    own = set(
        AgencyPage.objects.filter(organization=referral.agency_id).values_list("pk", flat=True)
    )
    results = service_search(network=referral.network, query=query, now=now)
    found = []
    for hit in results.hits:
        if hit.service_id != referral.service_id and hit.agency_id not in own:
            found.append(hit)
        if len(found) == ALTERNATIVES:
            break
    return found
