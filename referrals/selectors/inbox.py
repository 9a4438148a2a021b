"""The agency's referral inbox: its tabs, their counts, and the rows each tab lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet

from consent.models import ClientField
from consent.services import access_log_write
from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.changes import referrals_changed_stamp
from referrals.disclosure import fields_disclosed
from referrals.lifecycle import OUTCOME_OWED
from referrals.models import TERMINAL_STATUSES, Referral, ReferralStatus, inbox_due
from referrals.selectors.referrals import referral_inbox

if TYPE_CHECKING:
    from network.models import User
    from network.permissions import ObjectPermissionChecker


INBOX_TABS: tuple[str, ...] = ("new", "overdue", "in_progress", "waiting", "closed", "all")
# Tabs of referrals that need nothing more: listed by when they closed, not by a due date.
CLOSED_TABS: frozenset[str] = frozenset({"closed"})
# A name search looks at no more referrals than this (the tab's first, in its order).
NAME_SEARCH_LIMIT = 500
# The largest id a database key holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def inbox_tab_conditions(*, now: datetime) -> dict[str, Q]:
    """What puts a received referral on each inbox tab at ``now``. Overdue overlaps the others:
    a late referral is also new, in progress or waiting."""

    return {
        "new": Q(status=ReferralStatus.REQUESTED),
        "overdue": Q(status=ReferralStatus.REQUESTED, response_due_at__lt=now)
        | Q(status__in=OUTCOME_OWED, outcome_due_at__lt=now),
        "in_progress": Q(status__in=[ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS]),
        "waiting": Q(status=ReferralStatus.ON_HOLD),
        # Declined, completed, could not be completed, cancelled, entered in error.
        "closed": Q(status__in=TERMINAL_STATUSES),  # the tuple: the index's condition
        "all": Q(pk__isnull=False),
    }


def referral_inbox_counts(
    *,
    user: User,
    organization: Organization,
    now: datetime,
    checker: ObjectPermissionChecker | None = None,
) -> dict[str, int]:
    """How many of the agency's received referrals each inbox tab holds, in one aggregate
    query; all zero for anyone but its staff who receive referrals."""
    conditions = inbox_tab_conditions(now=now)
    counts = (
        referral_inbox(user=user, organization=organization, checker=checker)
        .order_by()
        .aggregate(**{tab: Count("pk", filter=condition) for tab, condition in conditions.items()})
    )
    return {tab: counts.get(tab) or 0 for tab in INBOX_TABS}


def referral_inbox_counts_kept(
    *,
    user: User,
    organization: Organization,
    now: datetime,
    checker: ObjectPermissionChecker | None = None,
) -> dict[str, int]:
    """``referral_inbox_counts``, kept in the cache for ``now`` (a minute, as the inbox reads
    it), the network's referral-change token (bumped by every send and change through the
    services, whatever the writers' clocks) and the agency's latest ``updated_at`` (one probe
    of the index ``referral_agency_changed``, for any other writer): a referral sent to the
    agency, or changed, is a new key, so the counts are never older than the referrals. The
    aggregate reads every referral the agency ever received."""
    if not organization.receives_referrals or not user_has_org_perm(
        user, OrgPerm.RECEIVE_REFERRALS, organization, checker=checker
    ):
        return dict.fromkeys(INBOX_TABS, 0)
    changed = referrals_changed_stamp(organization.network_id, agency=organization)
    key = f"inbox-counts:{organization.pk}:{changed}:{now.isoformat()}"
    counts = cast(
        dict[str, int],
        cache.get_or_set(
            key,
            lambda: referral_inbox_counts(
                user=user, organization=organization, now=now, checker=checker
            ),
            INBOX_COUNTS_KEPT_SECONDS,
        ),
    )
    return dict(counts)


INBOX_COUNTS_KEPT_SECONDS = 120


def referral_inbox_tab(
    *,
    user: User,
    organization: Organization,
    tab: str,
    now: datetime,
    descending: bool = False,
    checker: ObjectPermissionChecker | None = None,
) -> QuerySet[Referral]:
    """The received referrals on one inbox tab, by due date (the answer's while requested,
    else the outcome's; undated and closed last, the latest closed first) or, on the closed
    tab, by when they closed (latest first), each with ``due_at`` (None once closed),
    ``client_language`` (show it only through ``referral_inbox_languages``) and what deciding
    that needs."""

    return _with_row_data(_tab(user, organization, tab, now, descending, checker))


def referral_inbox_tab_keys(
    *,
    user: User,
    organization: Organization,
    tab: str,
    now: datetime,
    descending: bool = False,
    checker: ObjectPermissionChecker | None = None,
) -> QuerySet[Referral, int]:
    """The ids of the received referrals on one inbox tab, in ``referral_inbox_tab``'s order:
    a page of them sorts the referral table alone (no join), and ``referral_inbox_rows``
    reads that page's rows."""
    return _tab(user, organization, tab, now, descending, checker).values_list("pk", flat=True)


def _tab(
    user: User,
    organization: Organization,
    tab: str,
    now: datetime,
    descending: bool,
    checker: ObjectPermissionChecker | None,
) -> QuerySet[Referral]:
    """The referrals on one tab with ``due_at``, in the tab's order."""
    conditions = inbox_tab_conditions(now=now)
    if tab not in conditions:
        raise ValueError(f"Unknown inbox tab {tab!r}.")
    if tab in CLOSED_TABS:  # the latest closed first (``descending``: exactly the other way)
        order = [
            F("closed_at").asc(nulls_first=True)
            if descending
            else F("closed_at").desc(nulls_last=True),
            "pk" if descending else "-pk",
        ]
    else:  # by due date, then the closed ones, latest first
        order = [
            F("due_at").desc(nulls_last=True) if descending else F("due_at").asc(nulls_last=True),
            F("closed_at").desc(nulls_last=True),
            "-pk" if descending else "pk",
        ]
    # Sorted as the indexes referral_inbox_due(_desc) and referral_inbox_closed are.
    return (
        referral_inbox(user=user, organization=organization, checker=checker)
        .filter(conditions[tab])
        .annotate(due_at=inbox_due())
        .order_by(*order)
    )


def referral_inbox_rows(
    *,
    user: User,
    organization: Organization,
    keys: Sequence[int],
    checker: ObjectPermissionChecker | None = None,
) -> list[Referral]:
    """The received referrals of ``keys`` (a page of ``referral_inbox_tab_keys``), in that
    order, as ``referral_inbox_tab`` gives them; none the user may not see."""
    rows = _with_row_data(
        referral_inbox(user=user, organization=organization, checker=checker)
        .filter(pk__in=list(keys))
        .annotate(due_at=inbox_due())
        .order_by()  # put in the keys' order below: no sort to write or run
    ).in_bulk()
    return [rows[key] for key in keys if key in rows]


# The columns an inbox row shows and deciding its disclosure reads (``fields_disclosed``), and
# no others: a page reads 25 rows of five tables, and turning the rest of their columns into
# Python was a fifth of the page's time.
ROW_FIELDS = (
    # shown
    "service_name",
    "urgency",
    "status",
    "created_at",
    "closed_at",
    "sender__name",
    # the disclosure (consent_covers, the agreement's fields) and the access log
    "network_id",
    "client_id",
    "agency_id",
    "categories",
    "consent__client_id",
    "consent__network_id",
    "consent__categories",
    "consent__whole_network",
    "consent__granted_at",
    "consent__expires_at",
    "consent__revoked_at",
    "agreement__fields",
)


def _with_row_data(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """What an inbox row shows and what deciding its disclosure needs (``ROW_FIELDS``; whom
    each consent names, ``fields_disclosed`` reads for the page)."""
    return (
        referrals.annotate(client_language=F("client__preferred_language"))
        .select_related("sender", "agreement", "consent")
        .only(*ROW_FIELDS)
    )


@dataclass(frozen=True)
class InboxSearch:
    """What a search box's words ask: a referral number ("#123" or "123"), or words of the
    client's name (each must be part of the first or last name)."""

    number: int | None
    words: tuple[str, ...]

    @classmethod
    def parse(cls, query: str) -> InboxSearch | None:
        """None for an empty search."""
        # No NUL (PostgreSQL refuses it in a string): a pasted one is dropped.
        text = " ".join(query.replace("\x00", "").split())[:100]
        if not text:
            return None
        digits = text.removeprefix("#").strip()
        if digits.isdigit() and digits.isascii():
            return cls(number=int(digits), words=())
        return cls(number=None, words=tuple(text.split()))


def referral_inbox_search(
    referrals: QuerySet[Referral],
    *,
    search: InboxSearch,
    organization: Organization,
    at: datetime,
) -> QuerySet[Referral] | list[Referral]:
    """The referrals of an inbox tab (``referral_inbox_tab``) that the search finds, in the
    tab's order: by number, or by the client's name only where the disclosure shows the name
    (a search must not tell the agency a name the consent or agreement keep from it). A name
    search is a list (at most ``NAME_SEARCH_LIMIT`` looked at), in constant queries."""
    if search.number is not None:
        if search.number > MAX_ID:
            return referrals.none()
        return referrals.filter(pk=search.number)
    condition = Q()
    for word in search.words:
        condition &= Q(client__first_name__icontains=word) | Q(client__last_name__icontains=word)
    candidates = list(referrals.filter(condition)[:NAME_SEARCH_LIMIT])
    disclosed = fields_disclosed(candidates, organization, at=at)
    return [r for r in candidates if ClientField.NAME in disclosed[r.pk]]


def referral_inbox_search_log(
    *,
    referrals: Sequence[Referral],
    organization: Organization,
    user: User,
    at: datetime,
    ip_address: str | None = None,
    user_agent: str = "",
) -> None:
    """Log that a name search showed ``user`` which listed referrals are the named client's (the
    rows of one page, in one write): a match tells the name."""
    access_log_write(
        user=user,
        organization=organization,
        purpose="inbox",
        fields=[ClientField.NAME],
        seen=[(referral.client_id, referral.pk) for referral in referrals],
        ip_address=ip_address,
        user_agent=user_agent,
        at=at,
    )


def referral_inbox_languages(
    *,
    referrals: Sequence[Referral],
    organization: Organization,
    user: User,
    at: datetime,
    ip_address: str | None = None,
    user_agent: str = "",
) -> dict[int, str]:
    """Referral id → the client's preferred language, for the listed referrals (from
    ``referral_inbox_tab``) whose disclosure shows that field, logged as seen in one write.

    ``referrals.disclosure.fields_disclosed`` decides, for the whole page in constant queries.
    """

    field = ClientField.PREFERRED_LANGUAGE
    disclosed = fields_disclosed(referrals, organization, at=at)
    allowed = [referral for referral in referrals if field in disclosed[referral.pk]]
    access_log_write(
        user=user,
        organization=organization,
        purpose="inbox",
        fields=[field],
        seen=[(referral.client_id, referral.pk) for referral in allowed],
        ip_address=ip_address,
        user_agent=user_agent,
        at=at,
    )
    return {referral.pk: getattr(referral, "client_language", "") for referral in allowed}
