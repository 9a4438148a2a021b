"""The agency's referral inbox: its tabs, their counts, and the rows each tab lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Case, Count, F, Q, QuerySet, When

from consent.models import ClientField
from consent.services import access_log_write
from network.models import Organization
from referrals.disclosure import fields_disclosed
from referrals.lifecycle import OUTCOME_OWED
from referrals.models import Referral, ReferralStatus
from referrals.selectors.referrals import referral_inbox

if TYPE_CHECKING:
    from network.models import User


INBOX_TABS: tuple[str, ...] = ("new", "overdue", "in_progress", "waiting")


def inbox_tab_conditions(*, now: datetime) -> dict[str, Q]:
    """What puts a received referral on each inbox tab at ``now``. Overdue overlaps the others:
    a late referral is also new, in progress or waiting."""

    return {
        "new": Q(status=ReferralStatus.REQUESTED),
        "overdue": Q(status=ReferralStatus.REQUESTED, response_due_at__lt=now)
        | Q(status__in=OUTCOME_OWED, outcome_due_at__lt=now),
        "in_progress": Q(status__in=[ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS]),
        "waiting": Q(status=ReferralStatus.ON_HOLD),
    }


def referral_inbox_counts(
    *, user: User, organization: Organization, now: datetime
) -> dict[str, int]:
    """How many of the agency's received referrals each inbox tab holds, in one aggregate
    query; all zero for anyone but its staff who receive referrals."""
    conditions = inbox_tab_conditions(now=now)
    counts = (
        referral_inbox(user=user, organization=organization)
        .order_by()
        .aggregate(**{tab: Count("pk", filter=condition) for tab, condition in conditions.items()})
    )
    return {tab: counts.get(tab) or 0 for tab in INBOX_TABS}


def referral_inbox_tab(
    *,
    user: User,
    organization: Organization,
    tab: str,
    now: datetime,
    descending: bool = False,
) -> QuerySet[Referral]:
    """The received referrals on one inbox tab, by due date (the answer's while requested,
    else the outcome's; undated last), each with ``due_at``, ``client_language`` (show it only
    through ``referral_inbox_languages``) and what deciding that needs."""

    conditions = inbox_tab_conditions(now=now)
    if tab not in conditions:
        raise ValueError(f"Unknown inbox tab {tab!r}.")
    due = Case(
        When(status=ReferralStatus.REQUESTED, then=F("response_due_at")),
        default=F("outcome_due_at"),
    )
    order = F("due_at").desc(nulls_last=True) if descending else F("due_at").asc(nulls_last=True)
    return (
        referral_inbox(user=user, organization=organization)
        .filter(conditions[tab])
        .annotate(due_at=due, client_language=F("client__preferred_language"))
        .select_related("sender", "agreement", "consent__network")
        .prefetch_related("consent__recipients", "consent__sensitive_recipients")
        .order_by(order, "-pk" if descending else "pk")
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
