"""The referral loop's panel on the workspace home: what needs doing, counted.

Agency staff: new referrals and overdue ones (the inbox's tabs). Clinic staff: referrals
awaiting an answer or an outcome, overdue ones, and those declined or not completed lately, to
refer elsewhere (the tracker's filters). Everyone: unread notifications. Each count links to the
list that shows those referrals. One query whatever the number of referrals: an aggregate over
the organization's referrals; the unread count is the header's, kept in the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from network.workspace_panels import WorkspacePanel, WorkspaceTask
from referrals.lifecycle import OUTCOME_OWED
from referrals.models import Referral
from referrals.models import ReferralStatus as S
from referrals.selectors.inbox import inbox_tab_conditions
from referrals.selectors.notifications import unread_notifications
from referrals.selectors.tracker import referrals_overdue_condition

if TYPE_CHECKING:
    from guardian.core import ObjectPermissionChecker

    from network.middleware import TenantRequest
    from network.models import User

# What a clinic is still waiting for: an answer, then an outcome.
AWAITING: tuple[str, ...] = (S.REQUESTED, *sorted(OUTCOME_OWED))
DECLINED: tuple[str, ...] = (S.REJECTED, S.FAILED)
DECLINED_DAYS = 30  # declined or not completed referrals sent this many days back


@dataclass(frozen=True)
class WorkspaceCounts:
    receives: bool  # the person works the organization's inbox
    sends: bool  # the person sends and tracks the organization's referrals
    new: int = 0
    overdue_received: int = 0
    awaiting: int = 0
    overdue_sent: int = 0
    declined: int = 0
    unread: int = 0


def workspace_counts(
    *,
    user: User,
    organization: Organization | None,
    now: datetime,
    checker: ObjectPermissionChecker | None = None,
) -> WorkspaceCounts:
    """The counts of the acting person's panel. One query (none without an organization), and
    the unread count as the header keeps it (``unread_notifications``)."""
    receives = sends = False
    if organization is not None:
        receives = organization.receives_referrals and user_has_org_perm(
            user, OrgPerm.RECEIVE_REFERRALS, organization, checker=checker
        )
        sends = organization.sends_referrals and user_has_org_perm(
            user, OrgPerm.SEND_REFERRALS, organization, checker=checker
        )
    counts: dict[str, int | None] = {}
    if organization is not None and (receives or sends):
        received, sent = Q(agency=organization), Q(sender=organization, sent_at__isnull=False)
        inbox = inbox_tab_conditions(now=now)
        wanted: dict[str, Q] = {}
        if receives:
            wanted["new"] = received & inbox["new"]
            wanted["overdue_received"] = received & inbox["overdue"]
        if sends:
            wanted["awaiting"] = sent & Q(status__in=AWAITING)
            wanted["overdue_sent"] = sent & referrals_overdue_condition(now)
            wanted["declined"] = sent & Q(
                status__in=DECLINED, sent_at__gte=declined_since(organization, now)
            )
        scope = (received if receives else Q(pk__in=[])) | (sent if sends else Q(pk__in=[]))
        counts = (
            Referral.objects.filter(scope)
            .order_by()
            .aggregate(**{key: Count("pk", filter=condition) for key, condition in wanted.items()})
        )
    unread = unread_notifications(user)
    return WorkspaceCounts(
        receives=receives,
        sends=sends,
        unread=unread,
        **{key: value or 0 for key, value in counts.items()},
    )


def declined_since(organization: Organization, now: datetime) -> datetime:
    """Midnight (network time) of the first of the last ``DECLINED_DAYS`` days."""
    tz = ZoneInfo(organization.network.time_zone)
    first = now.astimezone(tz).date() - timedelta(days=DECLINED_DAYS - 1)
    return datetime.combine(first, time.min, tzinfo=tz)


def _url(name: str, query: list[tuple[str, str]] | None = None) -> str:
    url = reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def workspace_panel(request: TenantRequest, now: datetime) -> WorkspacePanel | None:
    """The home page's "What needs doing" panel for the acting person."""
    organization = request.organization
    counts = workspace_counts(
        user=request.user,
        organization=organization,
        now=now,
        checker=request.permission_checker,
    )
    tasks: list[WorkspaceTask] = []
    inbox = "referrals:referral_inbox"
    tracker = "referrals:referral_tracker"
    if counts.receives:
        tasks += [
            WorkspaceTask(
                ngettext("new referral to answer", "new referrals to answer", counts.new),
                counts.new,
                _url(inbox, [("tab", "new")]),
                urgent=True,
            ),
            WorkspaceTask(
                ngettext(
                    "overdue referral received",
                    "overdue referrals received",
                    counts.overdue_received,
                ),
                counts.overdue_received,
                _url(inbox, [("tab", "overdue")]),
                urgent=True,
            ),
        ]
    if counts.sends and organization is not None:
        since = declined_since(organization, now).date().isoformat()
        tasks += [
            WorkspaceTask(
                ngettext(
                    "referral sent awaiting an answer or outcome",
                    "referrals sent awaiting an answer or outcome",
                    counts.awaiting,
                ),
                counts.awaiting,
                _url(tracker, [("status", status) for status in AWAITING]),
            ),
            WorkspaceTask(
                ngettext(
                    "referral sent is overdue", "referrals sent are overdue", counts.overdue_sent
                ),
                counts.overdue_sent,
                _url(tracker, [("overdue", "on")]),
                urgent=True,
            ),
            WorkspaceTask(
                ngettext(
                    "referral declined or not completed in the last %(days)s days: refer elsewhere",
                    "referrals declined or not completed in the last %(days)s days: refer "
                    "elsewhere",
                    counts.declined,
                )
                % {"days": DECLINED_DAYS},
                counts.declined,
                _url(tracker, [*(("status", status) for status in DECLINED), ("sent_from", since)]),
                urgent=True,
            ),
        ]
    tasks.append(
        WorkspaceTask(
            ngettext("unread notification", "unread notifications", counts.unread),
            counts.unread,
            _url("referrals:notification_list"),
        )
    )
    return WorkspacePanel(title=_("What needs doing"), tasks=tasks, order=10)
