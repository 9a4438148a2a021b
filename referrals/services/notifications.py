"""Notifications about referrals: outbox rows written in the transaction of the change they
announce, and their delivery (in the app, and by email where the person has one)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from network.models import (
    Organization,
    User,
)
from network.permissions import (
    NetworkPerm,
    OrgPerm,
    networks_users_with_perm,
    organizations_users_with_perm,
)
from referrals.models import (
    Channel,
    Notification,
    Referral,
)
from referrals.outbox import delivery_enqueue

logger = logging.getLogger(__name__)


def agency_recipients(referral: Referral) -> list[User]:
    return list(organizations_users_with_perm(referral.agency, OrgPerm.RECEIVE_REFERRALS))


def sender_recipients(referral: Referral) -> list[User]:
    """The person who sent it, while they still work for the clinic; otherwise the clinic's
    staff, so that an answer never lands nowhere."""
    staff = list(organizations_users_with_perm(referral.sender, OrgPerm.SEND_REFERRALS))
    sent_by = [u for u in staff if u.pk == referral.sent_by_id]
    return sent_by or staff


def notify(
    users: Iterable[User],
    *,
    referral: Referral | None,
    kind: str,
    subject: str,
    body: str,
) -> list[Notification]:
    """Outbox rows (in-app, and email where the person has one), delivered after commit.

    The texts name the referral and service, never the client: email is not a safe channel.
    """
    link = reverse("referrals:referral_detail", args=[referral.pk]) if referral else ""
    rows = [
        Notification(
            user=user,
            referral=referral,
            channel=channel,
            kind=kind,
            subject=subject,
            body=body,
            link=link,
        )
        for user in dict.fromkeys(users)
        for channel in ((Channel.IN_APP, Channel.EMAIL) if user.email else (Channel.IN_APP,))
    ]
    created = Notification.objects.bulk_create(rows)
    ids = [n.pk for n in created]
    if ids:
        transaction.on_commit(lambda: delivery_enqueue(ids))
    return created


def notify_holders(
    organization: Organization,
    perm: OrgPerm,
    *,
    referral: Referral,
    kind: str,
    subject: str,
    body: str,
) -> list[int]:
    """``notify`` for every active holder of ``perm`` on ``organization`` (whom
    ``network.permissions.organizations_users_with_perm`` names), in one INSERT … SELECT: the
    insert reads the recipients itself, which spares a send a round trip and the objects. Ids of
    the new rows."""
    holders, holder_params = (
        organizations_users_with_perm(organization, perm)
        .values("id", "email")
        .query.sql_with_params()
    )
    outbox = Notification._meta.db_table
    sql = f"""
        INSERT INTO {outbox}
            (user_id, referral_id, channel, kind, subject, body, link, created_at,
             next_attempt_at, attempts, last_error, delivered_at, read_at)
        SELECT u.id, %s, c.channel, %s, %s, %s, %s, %s, NULL, 0, '', NULL, NULL
        FROM ({holders}) u
        JOIN (SELECT %s AS channel UNION ALL SELECT %s) c
            ON c.channel = %s OR u.email <> ''
        RETURNING id
    """  # noqa: S608 -- the table name from model metadata, the holders from the ORM
    link = reverse("referrals:referral_detail", args=[referral.pk])
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *(referral.pk, kind, subject, body, link),
                connection.ops.adapt_datetimefield_value(timezone.now()),
                *holder_params,
                *(Channel.IN_APP, Channel.EMAIL, Channel.IN_APP),
            ],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if ids:
        transaction.on_commit(lambda: delivery_enqueue(ids))
    return ids


def agency_admins_notify_unreceived(referral: Referral) -> list[Notification]:
    """Tell the agency's admins and the network's admins that ``referral`` went to an agency
    where no active user may receive referrals, so that someone is given the role. The text
    names the referral, the service and the agencies, never the client."""

    admins = [
        *organizations_users_with_perm(referral.agency, OrgPerm.MANAGE_MEMBERS),
        *networks_users_with_perm(referral.network, NetworkPerm.ADMINISTER),
    ]
    return notify(
        admins,
        referral=referral,
        kind="referral_unreceived",
        subject=_("Referral #%(id)s has nobody to receive it at %(agency)s")
        % {"id": referral.pk, "agency": referral.agency.name},
        body=_(
            "%(clinic)s sent a referral for %(service)s to %(agency)s, but no active staff "
            "member of %(agency)s may receive referrals. Give someone there the agency staff "
            "role so that it is answered."
        )
        % {
            "clinic": referral.sender.name,
            "service": referral.service_name,
            "agency": referral.agency.name,
        },
    )
