"""Closed-loop performance of one network over a period: the network admins' dashboard.

Every figure is computed by the database (counts with filters, grouped annotations, a median), so
the number of queries is the same for ten referrals or a million. The definitions the figures
follow are written here once and repeated, in words, on the dashboard page:

* **In the period**: referrals *sent* (``sent_at``) from the first day's midnight to the end of
  the last day, in the network's time zone. Drafts (never sent) and referrals marked
  ``entered-in-error`` (created by mistake) are left out of every figure.
* **Closed loop** (``reference/referral-lifecycle.md``; PHMI key activity 18: the referring
  entity receives the result): the sender has a final status: ``completed`` or ``failed`` with
  an outcome recorded, or ``rejected`` or ``cancelled``. A referral is a closed loop from the
  moment its result comes back, however young it is.
* **Due for feedback**: closed loop already, or sent at least the agreement's outcome window
  (``outcome_days`` of the agreement the referral was sent under) before now. A younger open
  referral cannot be expected to be closed yet, so the **closed-loop rate** is closed-loop
  referrals ÷ referrals due for feedback (never above 100 %).
* **Declined by reason**: referrals ``rejected`` or ``failed`` in the period, per coded reason
  (``Referral.reason_code``; blank: no reason code).
* **Time to accept**: from ``sent_at`` to the ``status`` event that made it ``accepted`` (wall
  clock; the referral keeps that moment as ``responded_at``); the median is the middle value
  (the mean of the two middle ones for an even count).
* **Went overdue**: the agency answered (accepted or declined) after the answer due time, or had
  not answered by then; or, once accepted, it closed the referral after the outcome due time or
  has not closed it by then. **Share overdue** = went overdue ÷ referrals in the period.
* **Overdue now** (the variance report, whatever the period): still ``requested`` past the
  answer due time, or accepted, in progress or on hold past the outcome due time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    Min,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncWeek

from cms.categories import NEED_CHOICES
from network.models import Network, Organization, OrganizationKind
from referrals.lifecycle import OUTCOME_REQUIRED
from referrals.models import ReasonCode, Referral, ReferralOutcome
from referrals.models import ReferralStatus as S
from referrals.selectors.tracker import referrals_overdue_condition

# Statuses a sent referral can have, less the one that means "this never happened".
COUNTED: frozenset[str] = frozenset(S.values) - {S.DRAFT, S.ENTERED_IN_ERROR}
# Statuses of a referral the agency accepted at some point (the rest: waiting, declined).
ACCEPTED_ONCE: frozenset[str] = COUNTED - {S.REQUESTED, S.REJECTED}
# Final statuses that close the loop without an outcome code.
CLOSED_WITHOUT_OUTCOME: frozenset[str] = frozenset({S.REJECTED, S.CANCELLED})
# The coded reasons counted per agency, then referrals declined without a code.
REASON_CODES: tuple[str, ...] = (*ReasonCode.values, "")
RECEIVING_KINDS = (OrganizationKind.AGENCY, OrganizationKind.BOTH)
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """Calendar days ``first`` to ``last``, both included, in the network's time zone."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The first instant of the period and the first instant after it."""
        return (
            datetime.combine(self.first, time.min, tzinfo=tz),
            datetime.combine(self.last + ONE_DAY, time.min, tzinfo=tz),
        )


def period_default(*, network: Network, now: datetime, days: int = 90) -> Period:
    """The last ``days`` days up to today (in the network's time zone)."""
    today = now.astimezone(ZoneInfo(network.time_zone)).date()
    return Period(first=today - timedelta(days=days - 1), last=today)


# --- conditions, written once --------------------------------------------------------------


def _closed_loop() -> Q:
    return Q(status__in=OUTCOME_REQUIRED, outcome__in=ReferralOutcome.values) | Q(
        status__in=CLOSED_WITHOUT_OUTCOME
    )


class _Days(Func):
    """A whole number of days as a duration: an interval on PostgreSQL, microseconds (how
    Django stores durations) on SQLite."""

    output_field = DurationField()
    template = "(%(expressions)s * 86400000000)"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler, connection, template="make_interval(days => %(expressions)s)", **extra
        )


def _due_for_feedback() -> Q:
    """Closed loop already, or sent at least the agreement's outcome window ago (on a queryset
    ``_with_ages``)."""
    return Q(age__gte=F("feedback_window")) | _closed_loop()


# Final statuses whose coded reason the dashboard counts (declined, or could not be completed).
WITH_REASON: frozenset[str] = frozenset({S.REJECTED, S.FAILED})


def _reason_key(code: str) -> str:
    return "reason_" + (code.replace("-", "_") or "none")


def _with_ages(referrals: QuerySet[Referral], now: datetime) -> QuerySet[Referral]:
    """Aliases ``age`` (sent → now) and ``feedback_window`` (the agreement's outcome days)."""
    return referrals.alias(
        age=ExpressionWrapper(Value(now) - F("sent_at"), output_field=DurationField()),
        feedback_window=_Days(F("agreement__outcome_days")),
    )


def _went_overdue(now: datetime) -> Q:
    answered_or_now = Coalesce(F("responded_at"), F("closed_at"), Value(now))
    closed_or_now = Coalesce(F("closed_at"), Value(now))
    return Q(response_due_at__lt=answered_or_now) | Q(outcome_due_at__lt=closed_or_now)


def referrals_in_period(*, network: Network, period: Period) -> QuerySet[Referral]:
    """The network's referrals sent in the period, without drafts and entries made in error."""
    start, end = period.bounds(ZoneInfo(network.time_zone))
    return Referral.objects.filter(
        network=network, status__in=COUNTED, sent_at__gte=start, sent_at__lt=end
    ).order_by()


# --- agencies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyFigures:
    """One agency's figures for the period (or, with ``agency_id`` None, the whole network's)."""

    agency_id: int | None
    name: str
    sent: int = 0
    feedback_due: int = 0
    closed_loop: int = 0
    accepted: int = 0
    median_accept: timedelta | None = None
    went_overdue: int = 0
    # (reason code, count) for every code of ``REASON_CODES`` ("" last: no coded reason).
    reasons: tuple[tuple[str, int], ...] = ()

    @property
    def declined(self) -> int:
        """Referrals declined or not completed (``rejected`` or ``failed``), any reason."""
        return sum(n for _code, n in self.reasons)

    @property
    def closed_loop_rate(self) -> float | None:
        """Closed-loop referrals ÷ referrals due for feedback (0 to 1), None without any due."""
        return self.closed_loop / self.feedback_due if self.feedback_due else None

    @property
    def overdue_share(self) -> float | None:
        """Referrals that went overdue ÷ referrals sent (0 to 1), None without referrals."""
        return self.went_overdue / self.sent if self.sent else None


@dataclass(frozen=True)
class AgencyPerformance:
    agencies: list[AgencyFigures]
    network: AgencyFigures


def agency_performance(*, network: Network, period: Period, now: datetime) -> AgencyPerformance:
    """Per agency of the network (also those that received nothing) and for the whole network:
    referrals sent, due for feedback, closed loop, accepted, median time to accept, went
    overdue. Four queries whatever the number of referrals or agencies."""
    referrals = referrals_in_period(network=network, period=period)
    counts: dict[int, Any] = {
        row["agency"]: row
        for row in _with_ages(referrals, now)
        .values("agency")
        .annotate(
            sent=Count("pk"),
            feedback_due=Count("pk", filter=_due_for_feedback()),
            closed_loop=Count("pk", filter=_closed_loop()),
            went_overdue=Count("pk", filter=_went_overdue(now)),
            **{
                _reason_key(code): Count("pk", filter=Q(status__in=WITH_REASON, reason_code=code))
                for code in REASON_CODES
            },
        )
    }
    waits = _accept_waits(referrals)
    medians = _median_waits(waits, by="agency")
    agencies = Organization.objects.filter(network=network).filter(
        Q(kind__in=RECEIVING_KINDS, is_active=True) | Q(pk__in=list(counts))
    )
    rows = []
    for agency_id, name in agencies.order_by("name").values_list("pk", "name"):
        row = counts.get(agency_id, {})
        accepted, median = medians.get(agency_id, (0, None))
        rows.append(
            AgencyFigures(
                agency_id=agency_id,
                name=name,
                sent=row.get("sent", 0),
                feedback_due=row.get("feedback_due", 0),
                closed_loop=row.get("closed_loop", 0),
                accepted=accepted,
                median_accept=median,
                went_overdue=row.get("went_overdue", 0),
                reasons=tuple((code, row.get(_reason_key(code), 0)) for code in REASON_CODES),
            )
        )
    accepted, median = _median_waits(waits, by=None).get(None, (0, None))
    total = AgencyFigures(
        agency_id=None,
        name="",
        sent=sum(r.sent for r in rows),
        feedback_due=sum(r.feedback_due for r in rows),
        closed_loop=sum(r.closed_loop for r in rows),
        accepted=accepted,
        median_accept=median,
        went_overdue=sum(r.went_overdue for r in rows),
        reasons=tuple((code, sum(dict(r.reasons)[code] for r in rows)) for code in REASON_CODES),
    )
    return AgencyPerformance(agencies=rows, network=total)


def _accept_waits(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """The referrals that were accepted, annotated with ``wait`` (sent → accepted).

    ``responded_at`` is the time of the "accepted" status event: ``referral_transition`` writes
    both at the same instant. Reading it from the referral spares a scan of the timeline."""
    return referrals.filter(responded_at__isnull=False, status__in=ACCEPTED_ONCE).annotate(
        wait=ExpressionWrapper(F("responded_at") - F("sent_at"), output_field=DurationField())
    )


class _Median(Aggregate):
    """PostgreSQL's continuous median (the mean of the two middle values for an even count)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _median_waits(
    waits: QuerySet[Referral], *, by: str | None
) -> dict[Any, tuple[int, timedelta | None]]:
    """{group: (count, median wait)}, grouped by the field ``by`` (None: one group). One query."""
    if connection.vendor == "postgresql":
        if by is None:
            found = waits.aggregate(n=Count("pk"), median=_Median("wait"))
            return {None: (found["n"], found["median"])} if found["n"] else {}
        grouped = waits.values(by).annotate(n=Count("pk"), median=_Median("wait"))
        return {row[by]: (row["n"], row["median"]) for row in grouped}
    # Elsewhere: number the waits in order within each group and keep the one or two middle
    # rows, still in one query (filtering on window functions).
    partition = [F(by)] if by else []
    middle = (
        waits.annotate(
            group=F(by) if by else Value(0),
            position=Window(RowNumber(), partition_by=partition, order_by=F("wait").asc()),
            n=Window(Count("pk"), partition_by=partition),
        )
        .filter(position__gte=(F("n") + 1) / 2, position__lte=(F("n") + 2) / 2)
        .values_list("group", "n", "wait")
    )
    middles: dict[Any, tuple[int, list[timedelta]]] = {}
    for group, n, wait in middle:
        middles.setdefault(group, (n, []))[1].append(wait)
    return {
        group if by else None: (n, sum(w, timedelta()) / len(w))
        for group, (n, w) in middles.items()
    }


# --- outcomes by category ------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeRow:
    outcome: str
    label: str
    counts: list[int]  # one per category of ``OutcomeTable.categories``
    total: int  # referrals, each counted once whatever its number of needs


@dataclass(frozen=True)
class OutcomeTable:
    """Referrals of the period closed with an outcome, per outcome (rows) and need (columns).

    A referral sent for two needs counts once in each need's column, once in ``total``.
    Only needs with at least one outcome are columns."""

    categories: list[tuple[str, str]]
    rows: list[OutcomeRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(row.total for row in self.rows)


def outcomes_by_category(*, network: Network, period: Period) -> OutcomeTable:
    """Need-by-outcome counts of the period's referrals closed with an outcome. One query,
    grouped by outcome and the list of needs (a handful of distinct lists), spread over the
    needs here."""
    grouped = (
        referrals_in_period(network=network, period=period)
        .filter(status__in=OUTCOME_REQUIRED, outcome__in=ReferralOutcome.values)
        .values_list("outcome", "categories")
        .annotate(n=Count("pk"))
    )
    totals: dict[str, int] = {}
    per_need: dict[tuple[str, str], int] = {}
    for outcome, needs, n in grouped:
        totals[outcome] = totals.get(outcome, 0) + n
        for code in set(needs or ()):
            per_need[outcome, code] = per_need.get((outcome, code), 0) + n
    needed = {code for _outcome, code in per_need}
    used = [(code, str(label)) for code, label in NEED_CHOICES if code in needed]
    rows = [
        OutcomeRow(
            outcome=str(outcome.value),
            label=str(outcome.label),
            counts=[per_need.get((outcome.value, code), 0) for code, _label in used],
            total=totals.get(outcome.value, 0),
        )
        for outcome in ReferralOutcome
    ]
    return OutcomeTable(categories=used, rows=rows)


# --- referrals per week --------------------------------------------------------------------


@dataclass(frozen=True)
class WeekCount:
    week: date  # the Monday the week starts on (network time)
    sent: int


def referrals_per_week(*, network: Network, period: Period) -> list[WeekCount]:
    """Referrals sent in each week (Monday to Sunday, network time) that overlaps the period,
    zeros included; the first and last weeks may be partly outside the period. One query."""
    tz = ZoneInfo(network.time_zone)
    grouped = (
        referrals_in_period(network=network, period=period)
        .annotate(week=TruncWeek("sent_at", tzinfo=tz))
        .values("week")
        .annotate(sent=Count("pk"))
    )
    sent = {row["week"].astimezone(tz).date(): row["sent"] for row in grouped}
    monday = period.first - timedelta(days=period.first.weekday())
    weeks = []
    while monday <= period.last:
        weeks.append(WeekCount(week=monday, sent=sent.get(monday, 0)))
        monday += timedelta(weeks=1)
    return weeks


# --- the variance report -------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyOverdue:
    """One agency's referrals overdue now: how many, what it owes, since when."""

    agency_id: int
    name: str
    total: int
    answers: int  # still waiting for the agency's answer
    outcomes: int  # accepted, still waiting for an outcome
    earliest_due_at: datetime

    def longest_days(self, now: datetime) -> int:
        """Whole days since the earliest due time."""
        return (now - self.earliest_due_at).days


@dataclass(frozen=True)
class OverdueReferral:
    """A referral overdue now: what the agency owes and since when. No client data."""

    pk: int
    agency_id: int
    agency_name: str
    service_name: str
    status: str
    sent_at: datetime | None
    due_at: datetime
    owes: str  # "answer" or "outcome"
    days_overdue: int


def _due_at() -> Case:
    """The due time of what the agency owes next: the answer, else the outcome."""
    return Case(When(status=S.REQUESTED, then=F("response_due_at")), default=F("outcome_due_at"))


def overdue_by_agency(*, network: Network, now: datetime) -> list[AgencyOverdue]:
    """The network's agencies with referrals overdue now, by name: how many, owing an answer
    or an outcome, and the earliest due time. One query."""
    grouped = (
        Referral.objects.filter(referrals_overdue_condition(now), network=network)
        .values("agency_id", "agency__name")
        .annotate(
            total=Count("pk"),
            answers=Count("pk", filter=Q(status=S.REQUESTED)),
            earliest=Min(_due_at()),
        )
        .order_by("agency__name", "agency_id")
    )
    return [
        AgencyOverdue(
            agency_id=row["agency_id"],
            name=row["agency__name"],
            total=row["total"],
            answers=row["answers"],
            outcomes=row["total"] - row["answers"],
            earliest_due_at=row["earliest"],
        )
        for row in grouped
    ]


OVERDUE_COLUMNS = (
    "pk",
    "agency_id",
    "agency__name",
    "service_name",
    "status",
    "sent_at",
    "due_at",
)


def referrals_overdue_rows(
    *, network: Network, now: datetime, agency_id: int | None = None
) -> QuerySet[Referral, tuple[Any, ...]]:
    """The network's (or one agency's) referrals overdue now as rows of ``OVERDUE_COLUMNS``,
    by agency name then due time (longest overdue first): page it, then read the rows with
    ``overdue_referral``."""
    found = Referral.objects.filter(referrals_overdue_condition(now), network=network)
    if agency_id is not None:
        found = found.filter(agency_id=agency_id)
    return (
        found.annotate(due_at=_due_at())
        .order_by("agency__name", "agency_id", "due_at", "pk")
        .values_list(*OVERDUE_COLUMNS)
    )


def overdue_referral(row: tuple[Any, ...], now: datetime) -> OverdueReferral:
    pk, agency_id, agency_name, service_name, status, sent_at, due = row
    return OverdueReferral(
        pk=pk,
        agency_id=agency_id,
        agency_name=agency_name,
        service_name=service_name,
        status=status,
        sent_at=sent_at,
        due_at=due,
        owes="answer" if status == S.REQUESTED else "outcome",
        days_overdue=(now - due).days,
    )


def referrals_overdue(
    *, network: Network, now: datetime, agency_id: int | None = None
) -> list[OverdueReferral]:
    """Every referral of ``referrals_overdue_rows``. One query."""
    rows = referrals_overdue_rows(network=network, now=now, agency_id=agency_id)
    return [overdue_referral(row, now) for row in rows]


# --- everything on the page ----------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    network: Network
    period: Period
    now: datetime
    performance: AgencyPerformance
    outcomes: OutcomeTable
    weeks: list[WeekCount]
    overdue: list[AgencyOverdue]


def dashboard_for(*, network: Network, period: Period, now: datetime) -> Dashboard:
    """Every table of the network dashboard; a fixed number of queries."""
    return Dashboard(
        network=network,
        period=period,
        now=now,
        performance=agency_performance(network=network, period=period, now=now),
        outcomes=outcomes_by_category(network=network, period=period),
        weeks=referrals_per_week(network=network, period=period),
        overdue=overdue_by_agency(network=network, now=now),
    )
