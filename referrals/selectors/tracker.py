"""The clinic's referral tracker: its referrals with their overdue state, filtered and paged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, Case, DateTimeField, F, Q, QuerySet, Value, When

from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.changes import referrals_changed_stamp
from referrals.lifecycle import OUTCOME_OWED
from referrals.models import Referral
from referrals.selectors.clients import name_matches

if TYPE_CHECKING:
    from network.models import User
    from network.permissions import ObjectPermissionChecker


def referrals_overdue_condition(now: datetime) -> Q:
    """Referrals past their due date: no answer by ``response_due_at``, or accepted and no
    outcome by ``outcome_due_at``."""

    return Q(status="requested", response_due_at__lt=now) | Q(
        status__in=OUTCOME_OWED, outcome_due_at__lt=now
    )


# The columns a tracker row shows (``referrals.views.tracker.rows_html``) and its access log
# reads (the ids, always read), and no others: not the client's contact details, nor every
# column of three tables turned into Python for 25 rows.
TRACKER_ROW_FIELDS = (
    "status",
    "urgency",
    "service_name",
    "outcome",
    "reason_code",
    "status_reason",
    "sent_at",
    "client__first_name",
    "client__last_name",
    "agency__name",
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
    checker: ObjectPermissionChecker | None = None,
) -> QuerySet[Referral]:
    """Referrals ``organization`` sent, newest first, for its clinic staff (none for anyone
    else), with what a row shows of their agency and client (``TRACKER_ROW_FIELDS``),
    ``sent_on``, ``due_at`` (the answer or the outcome owed next) and ``is_overdue``.
    ``checker`` (the request's) answers the permission from its cache. ``client_text`` finds
    the client by name as the clients list does (every word, misspellings that sound alike
    included). Sent dates are days in the network's time zone. Newest first is an index scan
    (sender, sent_at, id): a page costs the same after 100,000 referrals."""

    if not organization.sends_referrals or not user_has_org_perm(
        user, OrgPerm.SEND_REFERRALS, organization, checker=checker
    ):
        return Referral.objects.none()
    late = referrals_overdue_condition(now)
    qs = (
        Referral.objects.filter(sender=organization, sent_at__isnull=False)
        .select_related("agency", "client")
        .only(*TRACKER_ROW_FIELDS)
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


# How long a filter's count is kept at most (a change to the clinic's referrals renews it at once).
SENT_COUNT_KEPT_SECONDS = 300


def referrals_sent_changed(organization: Organization) -> str:
    """A text that changes whenever a referral ``organization`` sent changes
    (``referrals_changed_stamp``): what the tracker keeps in the cache is kept under it."""
    return referrals_changed_stamp(organization.network_id, sender=organization)


def referrals_sent_count_kept(
    referrals: QuerySet[Referral], *, organization: Organization, changed: str
) -> int:
    """How many ``referrals`` (``referrals_sent`` for ``organization``, narrowed by codes, ids
    and dates: never pass one narrowed by a client's name or id, whose text would be hashed into
    a cache key) there are, kept in the cache until a referral the clinic sent changes
    (``changed``: ``referrals_sent_changed``, read once a request): paging through a filter
    counts it once. The key is the counting query itself (its SQL and parameters, the overdue
    filter's minute among them), so a filter added to ``referrals_sent`` is part of it without
    being named here. A category filter reads every referral the clinic sent, a status filter
    most of them: PostgreSQL counts them from the index ``referral_sent_counts`` alone."""
    sql, params = referrals.order_by().values("pk").query.sql_with_params()
    digest = hashlib.sha256(repr((sql, params)).encode()).hexdigest()[:32]
    key = f"tracker-count:{organization.pk}:{changed}:{digest}"
    return cast(int, cache.get_or_set(key, referrals.count, SENT_COUNT_KEPT_SECONDS))


def agencies_referred_to(
    *, organization: Organization, agencies: QuerySet[Organization], changed: str
) -> QuerySet[Organization]:
    """Those of ``agencies`` the clinic has sent a referral to, by name: what its tracker's
    agency filter offers (a network's directory may hold thousands of agencies; the clinic
    refers to a few dozen). Which agencies it referred to is kept in the cache until a referral
    it sent changes (``changed``: ``referrals_sent_changed``); their names and whether they are
    still active and visible are read each time, by primary key."""
    key = f"tracker-agencies:{organization.pk}:{changed}"
    referred = cast(
        list[int],
        cache.get_or_set(
            key, lambda: agency_ids_referred_to(organization), SENT_COUNT_KEPT_SECONDS
        ),
    )
    return agencies.filter(pk__in=referred).order_by("name")


def agency_ids_referred_to(organization: Organization) -> list[int]:
    """The ids of the agencies ``organization`` sent a referral to, in one query: a skip
    through the index (sender, agency), a probe per agency referred to, however many
    referrals."""
    table = connection.ops.quote_name(Referral._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH RECURSIVE referred(agency_id) AS (
                SELECT MIN(agency_id) FROM {table} WHERE sender_id = %s AND sent_at IS NOT NULL
                UNION ALL
                SELECT (SELECT MIN(agency_id) FROM {table}
                        WHERE sender_id = %s AND sent_at IS NOT NULL
                        AND agency_id > referred.agency_id)
                FROM referred WHERE referred.agency_id IS NOT NULL
            ) SELECT agency_id FROM referred WHERE agency_id IS NOT NULL""",  # noqa: S608 - the values are parameters, the table our own name
            [organization.pk, organization.pk],
        )
        return [agency_id for (agency_id,) in cursor.fetchall()]
