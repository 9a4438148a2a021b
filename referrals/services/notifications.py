"""Notifications about referrals: outbox rows written in the transaction of the change they
announce, and their delivery (in the app, and by email where the person has one).

Each row is written in its recipient's language (``User.preferred_language``, else the site's):
the services pass the texts as a function (``referrals.notification_texts``) that is rendered
once per language among the recipients.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

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
from referrals.changes import notifications_changed
from referrals.models import (
    Channel,
    Notification,
    Referral,
)
from referrals.notification_texts import Texts, unreceived_texts
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


def interface_languages() -> list[str]:
    """The languages the interface speaks (``LANGUAGES``), the site's default first."""
    codes = [code for code, _name in settings.LANGUAGES]
    return [settings.LANGUAGE_CODE, *(c for c in codes if c != settings.LANGUAGE_CODE)]


def recipient_language(preferred: str) -> str:
    """The interface language a person reads: their preferred one when the interface speaks it
    (``es`` and ``es-MX`` are Spanish), else the site's default."""
    base = (preferred or "").strip().lower().split("-")[0]
    return base if base in interface_languages() else settings.LANGUAGE_CODE


def texts_in(language: str, texts: Callable[[], Texts]) -> Texts:
    """``texts`` rendered in ``language``."""
    with translation.override(language):
        subject, body = texts()
    return str(subject), str(body)


def notify(
    users: Iterable[User],
    *,
    referral: Referral | None,
    kind: str,
    texts: Callable[[], Texts],
    link: str | None = None,
) -> list[Notification]:
    """Outbox rows (in-app, and email where the person has one), delivered after commit, each
    in its recipient's language.

    The texts name the referral and service, never the client: email is not a safe channel.
    """
    if link is None:
        link = reverse("referrals:referral_detail", args=[referral.pk]) if referral else ""
    rendered: dict[str, Texts] = {}
    rows = []
    for user in dict.fromkeys(users):
        language = recipient_language(user.preferred_language)
        if language not in rendered:
            rendered[language] = texts_in(language, texts)
        subject, body = rendered[language]
        rows += [
            Notification(
                user=user,
                referral=referral,
                channel=channel,
                kind=kind,
                subject=subject,
                body=body,
                link=link,
            )
            for channel in ((Channel.IN_APP, Channel.EMAIL) if user.email else (Channel.IN_APP,))
        ]
    created = Notification.objects.bulk_create(rows)
    notifications_changed(n.user_id for n in created if n.channel == Channel.IN_APP)
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
    texts: Callable[[], Texts],
) -> list[int]:
    """``notify`` for every active holder of ``perm`` on ``organization`` (whom
    ``network.permissions.organizations_users_with_perm`` names), in one INSERT … SELECT: the
    insert reads the recipients itself, which spares a send a round trip and the objects. The
    texts are rendered in every interface language and each row takes its holder's. Ids of the
    new rows."""
    holders, holder_params = (
        organizations_users_with_perm(organization, perm)
        .values("id", "email", "preferred_language")
        .query.sql_with_params()
    )
    # CASE WHEN the holder reads language 2 THEN its text … ELSE the default language's text.
    languages = interface_languages()
    rendered = {language: texts_in(language, texts) for language in languages}
    whens = " ".join(
        "WHEN LOWER(u.preferred_language) = %s OR LOWER(u.preferred_language) LIKE %s THEN %s"
        for _language in languages[1:]
    )

    def chosen(part: int) -> tuple[str, list[str]]:
        params = [
            value
            for language in languages[1:]
            for value in (language, f"{language}-%", rendered[language][part])
        ]
        default = rendered[languages[0]][part]
        return (f"CASE {whens} ELSE %s END", [*params, default]) if whens else ("%s", [default])

    subject_sql, subject_params = chosen(0)
    body_sql, body_params = chosen(1)
    outbox = Notification._meta.db_table
    sql = f"""
        INSERT INTO {outbox}
            (user_id, referral_id, channel, kind, subject, body, link, created_at,
             next_attempt_at, attempts, last_error, delivered_at, read_at)
        SELECT u.id, %s, c.channel, %s, {subject_sql}, {body_sql}, %s, %s, NULL, 0, '', NULL,
            NULL
        FROM ({holders}) u
        JOIN (SELECT %s AS channel UNION ALL SELECT %s) c
            ON c.channel = %s OR u.email <> ''
        RETURNING id, user_id, channel
    """  # noqa: S608 -- the table name from model metadata, the holders from the ORM
    link = reverse("referrals:referral_detail", args=[referral.pk])
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                referral.pk,
                kind,
                *subject_params,
                *body_params,
                link,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                *holder_params,
                *(Channel.IN_APP, Channel.EMAIL, Channel.IN_APP),
            ],
        )
        created = cursor.fetchall()
    notifications_changed(user_id for _id, user_id, channel in created if channel == Channel.IN_APP)
    ids = [row[0] for row in created]
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
        texts=partial(unreceived_texts, referral),
        # The admins are off the referral (its page is not theirs): they go where roles are given.
        link=reverse("network:organization_members", args=[referral.agency.slug]),
    )


def notifications_mark_read(user: User, *, at: datetime) -> int:
    """Mark every unread in-app notification of ``user`` read at ``at``; how many were."""
    with transaction.atomic():
        marked = Notification.objects.filter(
            user=user, channel=Channel.IN_APP, read_at__isnull=True
        ).update(read_at=at)
        notifications_changed([user.pk])
    return marked
