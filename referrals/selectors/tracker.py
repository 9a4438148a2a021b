"""The clinic's referral tracker: its referrals with their overdue state, filtered and paged."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import BooleanField, Case, DateTimeField, F, Q, QuerySet, Value, When

from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.lifecycle import OUTCOME_OWED
from referrals.models import Referral
from referrals.selectors.clients import name_matches

if TYPE_CHECKING:
    from network.models import User


def referrals_overdue_condition(now: datetime) -> Q:
    """Referrals past their due date: no answer by ``response_due_at``, or accepted and no
    outcome by ``outcome_due_at``."""

    return Q(status="requested", response_due_at__lt=now) | Q(
        status__in=OUTCOME_OWED, outcome_due_at__lt=now
    )


def referrals_sent(
    *,
    user: User,
    organization: Organization,
    now: datetime,
    statuses: Iterable[str] = (),
    agency: Organization | None = None,
    category: str = "",
    overdue: bool = False,
    sent_from: date | None = None,
    sent_to: date | None = None,
    client_text: str = "",
    client_id: int | None = None,
) -> QuerySet[Referral]:
    """Referrals ``organization`` sent, newest first, for its clinic staff (none for anyone
    else), with their agency and client, ``sent_on``, ``due_at`` (the answer or the outcome
    owed next) and ``is_overdue``. ``client_text`` finds the client by name as the clients
    list does (every word, misspellings that sound alike included). Sent dates are days in
    the network's time zone. Newest first is an index scan (sender, sent_at, id): a page
    costs the same after 100,000 referrals."""

    if not organization.sends_referrals or not user_has_org_perm(
        user, OrgPerm.SEND_REFERRALS, organization
    ):
        return Referral.objects.none()
    late = referrals_overdue_condition(now)
    qs = (
        Referral.objects.filter(sender=organization, sent_at__isnull=False)
        .select_related("agency", "client")
        .annotate(
            sent_on=F("sent_at"),
            due_at=Case(
                When(status="requested", then=F("response_due_at")),
                When(status__in=OUTCOME_OWED, then=F("outcome_due_at")),
                default=None,
                output_field=DateTimeField(),
            ),
            is_overdue=Case(
                When(late, then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
        )
    )
    if statuses := list(statuses):
        qs = qs.filter(status__in=statuses)
    if agency is not None:
        qs = qs.filter(agency=agency)
    if category:
        if connection.features.supports_json_field_contains:
            qs = qs.filter(categories__contains=[category])
        else:  # SQLite: the JSON list's text holds each code quoted
            qs = qs.filter(categories__icontains=f'"{category}"')
    if overdue:
        qs = qs.filter(late)
    if client_id is not None:
        qs = qs.filter(client_id=client_id)
    for word in client_text.split()[:8]:
        qs = qs.filter(name_matches(word, "client__"))
    tz = ZoneInfo(organization.network.time_zone)
    if sent_from is not None:
        qs = qs.filter(sent_at__gte=datetime.combine(sent_from, time.min, tz))
    if sent_to is not None:
        qs = qs.filter(sent_at__lt=datetime.combine(sent_to + timedelta(days=1), time.min, tz))
    return qs.order_by("-sent_at", "-pk")
