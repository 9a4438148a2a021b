"""The notification outbox: a broker or mail outage delays delivery but loses nothing, and the
clinic hears about every status change and outcome (the closed loop), without client data."""

from __future__ import annotations

import logging
import smtplib
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import OperationalError as DatabaseDown
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from network import services
from network.models import Role
from referrals import outbox, tasks
from referrals.models import Channel, Notification, Referral
from referrals.services.transitions import referral_message, referral_transition
from tests.referrals.factories import SENT_AT, Loop

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
DOWN = f"{__name__}.MailServerDown"


class MailServerDown(BaseEmailBackend):
    """An SMTP relay that refuses every connection."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run each service call as its own committed transaction would: its on-commit work runs."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def agency_says(loop: Loop, referral: Referral, to: str, **kwargs) -> Referral:
    return referral_transition(
        referral=referral,
        to=to,
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=referral.version,
        **kwargs,
    )


def the_whole_loop(loop: Loop, committed) -> Referral:
    """Send, accept, a message each way, complete: five changes that notify someone."""
    referral = committed(loop.send, now=SENT_AT)
    referral = committed(agency_says, loop, referral, "accepted")
    committed(
        referral_message,
        referral=referral,
        by=loop.clinic_staff,
        organization=loop.clinic,
        text="She can come in on Thursday.",
    )
    committed(
        referral_message,
        referral=referral,
        by=loop.agency_staff,
        organization=loop.food_agency,
        text="Thursday works.",
    )
    return committed(agency_says, loop, referral, "completed", outcome="service-provided")


def emails_expected() -> Counter[tuple[str, str]]:
    return Counter(
        (n.user.email, n.subject)
        for n in Notification.objects.filter(channel=Channel.EMAIL).select_related("user")
    )


def emails_sent() -> Counter[tuple[str, str]]:
    assert all(len(m.to) == 1 for m in mail.outbox)
    return Counter((m.to[0], m.subject) for m in mail.outbox)


def sweep_at(monkeypatch, when: datetime) -> int:
    """Run the scheduled sweep task as if the clock said ``when``."""
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: when)
        return tasks.notifications_sweep.delay().get()


# --- mail outage ------------------------------------------------------------------------------


def test_a_mail_outage_delays_every_email_and_loses_none(loop, settings, committed, monkeypatch):
    settings.EMAIL_BACKEND = DOWN
    started = timezone.now()
    the_whole_loop(loop, committed)
    finished = timezone.now()

    in_app = Notification.objects.filter(channel=Channel.IN_APP)
    email = Notification.objects.filter(channel=Channel.EMAIL)
    # send → 2 agency staff; accept → sender; message → 2 agency staff; message → sender;
    # complete → sender.
    assert (in_app.count(), email.count()) == (7, 7)
    assert mail.outbox == []
    # In-app rows need no mail server; every email waits for a retry, with the reason recorded.
    assert not in_app.filter(delivered_at=None).exists()
    for row in email:
        assert row.delivered_at is None
        assert row.attempts == 1
        assert row.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
        assert started + timedelta(seconds=60) <= row.next_attempt_at
        assert row.next_attempt_at <= finished + timedelta(seconds=60)

    # Still down at the first retry: the wait doubles.
    first_retry = max(email.values_list("next_attempt_at", flat=True))
    due = outbox.notifications_due(now=first_retry)
    assert sorted(due) == sorted(email.values_list("pk", flat=True))
    assert outbox.notifications_deliver(ids=due, now=first_retry) == 0
    assert set(email.values_list("attempts", "next_attempt_at")) == {
        (2, first_retry + timedelta(minutes=2))
    }
    assert outbox.notifications_due(now=first_retry + timedelta(seconds=119)) == []
    second_retry = first_retry + timedelta(minutes=2)
    assert sweep_at(monkeypatch, second_retry) == 0
    assert set(email.values_list("attempts", "next_attempt_at")) == {
        (3, second_retry + timedelta(minutes=4))
    }
    assert mail.outbox == []

    # The mail server is back: the next sweep sends each email once.
    settings.EMAIL_BACKEND = LOCMEM
    third_retry = second_retry + timedelta(minutes=4)
    assert sweep_at(monkeypatch, third_retry) == 7

    assert len(mail.outbox) == 7
    assert emails_sent() == emails_expected()
    assert set(email.values_list("attempts", "delivered_at", "next_attempt_at")) == {
        (4, third_retry, None)
    }
    # Nothing left, nothing sent twice, however often the sweep runs.
    assert sweep_at(monkeypatch, third_retry + timedelta(minutes=1)) == 0
    assert sweep_at(monkeypatch, third_retry + timedelta(days=1)) == 0
    assert len(mail.outbox) == 7


def test_a_weekend_long_mail_outage_still_loses_nothing(loop, settings, committed, caplog):
    settings.EMAIL_BACKEND = DOWN
    referral = committed(loop.send, now=SENT_AT)
    email = Notification.objects.filter(channel=Channel.EMAIL, referral=referral)
    assert email.count() == 2

    # Friday evening to Monday morning: every retry fails, each wait at most six hours.
    at = max(email.values_list("next_attempt_at", flat=True))
    end = at + timedelta(hours=62)
    while at < end:
        due = outbox.notifications_due(now=at)
        assert sorted(due) == sorted(email.values_list("pk", flat=True))
        assert outbox.notifications_deliver(ids=due, now=at) == 0
        waits = {row.next_attempt_at - at for row in email.all()}
        assert len(waits) == 1
        (wait,) = waits
        assert timedelta(minutes=1) <= wait <= timedelta(hours=6)
        at += wait
    assert min(email.values_list("attempts", flat=True)) > outbox.MAX_ATTEMPTS
    # The operators were told once per row that the mail server has been failing for long.
    alarms = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(alarms) == 2
    assert all("still undelivered" in r.getMessage() for r in alarms)

    settings.EMAIL_BACKEND = LOCMEM
    due = outbox.notifications_due(now=at)
    assert outbox.notifications_deliver(ids=due, now=at) == 2
    assert emails_sent() == emails_expected()


def test_a_change_made_after_the_mail_server_returns_sends_only_its_own_email(
    loop, settings, committed
):
    settings.EMAIL_BACKEND = DOWN
    referral = committed(loop.send, now=SENT_AT)
    settings.EMAIL_BACKEND = LOCMEM

    committed(agency_says, loop, referral, "accepted")

    assert [m.to for m in mail.outbox] == [[loop.clinic_staff.email]]
    assert Notification.objects.filter(channel=Channel.EMAIL, delivered_at=None).count() == 2


# --- broker outage ----------------------------------------------------------------------------


def test_a_broker_outage_delays_delivery_and_loses_nothing(loop, committed, monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(outbox.notifications_deliver_task, "delay", broker_down)
    with caplog.at_level(logging.WARNING, logger="referrals.outbox"):
        referral = committed(loop.send, now=SENT_AT)
        referral = committed(agency_says, loop, referral, "accepted")

    # The service calls succeeded; the outbox holds everything, nothing has gone out yet.
    assert referral.status == "accepted"
    assert Referral.objects.get().version == 2
    rows = Notification.objects.all()
    assert rows.count() == 6
    assert set(rows.values_list("attempts", "delivered_at", "next_attempt_at")) == {(0, None, None)}
    assert mail.outbox == []
    assert sum("could not queue delivery" in r.getMessage() for r in caplog.records) == 2

    # Not lost yet: a task might still be on its way.
    written = max(rows.values_list("created_at", flat=True))
    assert outbox.notifications_due(now=written) == []
    lost = written + timedelta(seconds=settings.HANDOFF_OUTBOX_LOST_AFTER_SECONDS)
    assert sorted(outbox.notifications_due(now=lost)) == sorted(rows.values_list("pk", flat=True))

    # The sweep delivers every row once, and only once.
    assert sweep_at(monkeypatch, lost) == 6
    assert not rows.filter(delivered_at=None).exists()
    assert len(mail.outbox) == 3
    assert emails_sent() == emails_expected()
    assert sweep_at(monkeypatch, lost + timedelta(hours=1)) == 0
    assert len(mail.outbox) == 3


def test_a_row_delivered_by_its_task_is_not_sent_again_by_the_sweep(loop, committed, monkeypatch):
    referral = committed(loop.send, now=SENT_AT)
    assert len(mail.outbox) == 2

    written = Notification.objects.filter(referral=referral).latest("created_at").created_at
    assert sweep_at(monkeypatch, written + timedelta(hours=1)) == 0
    # Delivering the same ids again (a duplicated task) sends nothing either.
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert outbox.notifications_deliver_task.delay(ids).get() == 0
    assert len(mail.outbox) == 2


# --- a worker or the database failing in the middle of a send ------------------------------


def row_of(message) -> int:
    """The outbox row an email was sent for, from its Message-ID."""
    return int(message.extra_headers["Message-ID"].split("-")[1].split("@")[0])


class WatchedBackend(BaseEmailBackend):
    """Sends like locmem, and records, while it sends, how many transactions are open on the
    connection and whether the row is already claimed."""

    seen: list[tuple[int, bool]] = []

    def send_messages(self, email_messages):
        for message in email_messages:
            number = row_of(message)
            claimed = Notification.objects.filter(pk=number, sending_since__isnull=False).exists()
            WatchedBackend.seen.append((len(connection.atomic_blocks), claimed))
            mail.outbox.append(message)
        return len(email_messages)


def test_the_mail_server_is_spoken_to_outside_any_transaction_with_the_row_claimed(
    loop, settings, committed
):
    """Were the database to stop during the conversation, a transaction holding the send would
    roll back to "undelivered" a message the mail server already took, and it would go twice.
    (The test's own transaction wraps everything; the send must open none of its own.)"""
    settings.EMAIL_BACKEND = f"{__name__}.WatchedBackend"
    WatchedBackend.seen = []
    depth = len(connection.atomic_blocks)
    committed(loop.send, now=SENT_AT)

    assert WatchedBackend.seen == [(depth, True), (depth, True)]
    rows = Notification.objects.filter(channel=Channel.EMAIL)
    assert set(rows.values_list("attempts", "sending_since")) == {(1, None)}
    assert not rows.filter(delivered_at=None).exists()


def test_a_sent_message_is_marked_once_the_database_answers_again(
    loop, settings, committed, monkeypatch
):
    real_update = QuerySet.update
    failures = []

    def update(queryset, **kwargs):
        if "delivered_at" in kwargs and len(failures) < 3:
            failures.append(kwargs["delivered_at"])
            raise DatabaseDown("server closed the connection unexpectedly")
        return real_update(queryset, **kwargs)

    monkeypatch.setattr(QuerySet, "update", update)
    monkeypatch.setattr(outbox, "MARK_RETRY_SECONDS", 0)
    committed(loop.send, now=SENT_AT)

    # Three tries failed while "the database was down"; the fourth marked both rows; each
    # message went out once.
    assert len(failures) == 3
    assert len(mail.outbox) == 2
    assert emails_sent() == emails_expected()
    rows = Notification.objects.filter(channel=Channel.EMAIL)
    assert set(rows.values_list("attempts", "sending_since", "next_attempt_at")) == {
        (1, None, None)
    }
    assert not rows.filter(delivered_at=None).exists()


class ConversationBackend(BaseEmailBackend):
    """Holds a conversation as Django's SMTP backend does: a send opens one unless it is open
    already, and closes what it opened. At goodbye it records whether each row it sent is
    already marked delivered; ``goodbye_fails`` makes the goodbye raise, as a mail server that
    drops the connection after its 250 would."""

    marked_at_goodbye: list[bool] = []
    goodbye_fails = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.talking = False
        self.sent: list[int] = []

    def open(self):
        if self.talking:
            return False
        self.talking = True
        return True

    def close(self):
        if not self.talking:
            return
        self.talking = False
        for number in self.sent:
            delivered = Notification.objects.get(pk=number).delivered_at is not None
            ConversationBackend.marked_at_goodbye.append(delivered)
        if ConversationBackend.goodbye_fails:
            raise smtplib.SMTPResponseException(421, b"closing the connection")

    def send_messages(self, email_messages):
        opened = self.open()
        try:
            for message in email_messages:
                self.sent.append(row_of(message))
                mail.outbox.append(message)
        finally:
            if opened:
                self.close()
        return len(email_messages)


@pytest.fixture
def conversation(settings):
    settings.EMAIL_BACKEND = f"{__name__}.ConversationBackend"
    ConversationBackend.marked_at_goodbye = []
    ConversationBackend.goodbye_fails = False
    yield ConversationBackend
    ConversationBackend.goodbye_fails = False


def test_a_sent_message_is_marked_before_the_mail_server_is_told_goodbye(
    loop, committed, conversation
):
    """A worker killed between the mail server's 250 and its commit sends that message twice
    (its claim lapses and the sweep sends it again): the mark comes before the goodbye's round
    trip, so that moment is as short as the commit itself."""
    committed(loop.send, now=SENT_AT)

    assert conversation.marked_at_goodbye == [True, True]
    assert emails_sent() == emails_expected()


def test_a_goodbye_that_fails_after_the_250_does_not_send_twice(
    loop, committed, conversation, monkeypatch, caplog
):
    conversation.goodbye_fails = True
    with caplog.at_level(logging.WARNING, logger="referrals.outbox"):
        referral = committed(loop.send, now=SENT_AT)

    rows = Notification.objects.filter(channel=Channel.EMAIL)
    assert set(rows.values_list("attempts", "last_error", "next_attempt_at")) == {(1, "", None)}
    assert not rows.filter(delivered_at=None).exists()
    assert sum("closing the mail connection failed" in r.getMessage() for r in caplog.records) == 2
    # Nothing is left for the sweep: each message went out once.
    written = Notification.objects.filter(referral=referral).latest("created_at").created_at
    assert sweep_at(monkeypatch, written + timedelta(days=1)) == 0
    assert emails_sent() == emails_expected()
    assert len(mail.outbox) == 2


def test_a_claim_left_by_a_dead_worker_is_sent_again_once_it_lapses(
    loop, settings, committed, monkeypatch, caplog
):
    settings.EMAIL_BACKEND = DOWN
    committed(loop.send, now=SENT_AT)
    rows = Notification.objects.filter(channel=Channel.EMAIL)
    claimed_at = max(rows.values_list("next_attempt_at", flat=True))
    # A worker claimed both rows at the retry time and died before it answered anything.
    rows.update(sending_since=claimed_at, next_attempt_at=claimed_at)
    settings.EMAIL_BACKEND = LOCMEM
    lapse = outbox.claim_abandoned_after()
    assert lapse == timedelta(seconds=settings.HANDOFF_OUTBOX_CLAIM_LAPSE_SECONDS)

    # A live claim is left alone: no other worker sends the row while its claim is fresh.
    just_before = claimed_at + lapse - timedelta(seconds=1)
    assert sweep_at(monkeypatch, just_before) == 0
    assert mail.outbox == []

    with caplog.at_level(logging.WARNING, logger="referrals.outbox"):
        assert sweep_at(monkeypatch, claimed_at + lapse) == 2
    assert emails_sent() == emails_expected()
    assert set(rows.values_list("attempts", "sending_since")) == {(2, None)}
    assert sum("did not finish" in r.getMessage() for r in caplog.records) == 2


# --- the closed loop --------------------------------------------------------------------------


def sender_heard(loop: Loop, referral: Referral) -> list[str]:
    return list(
        Notification.objects.filter(
            referral=referral, user=loop.clinic_staff, channel=Channel.IN_APP
        )
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def test_the_clinic_hears_about_every_status_change_and_the_outcome(loop, committed):
    referral = committed(loop.send, now=SENT_AT)
    assert sender_heard(loop, referral) == []

    referral = committed(agency_says, loop, referral, "accepted")
    referral = committed(agency_says, loop, referral, "in-progress")
    referral = committed(agency_says, loop, referral, "on-hold", reason="Waitlist")
    referral = committed(agency_says, loop, referral, "in-progress")
    referral = committed(
        agency_says, loop, referral, "completed", outcome="service-provided-partially"
    )

    assert sender_heard(loop, referral) == [
        "referral_accepted",
        "referral_in-progress",
        "referral_on-hold",
        "referral_in-progress",
        "referral_completed",
    ]
    both = Notification.objects.filter(referral=referral, user=loop.clinic_staff)
    assert both.filter(channel=Channel.EMAIL).count() == 5
    completed = both.get(channel=Channel.IN_APP, kind="referral_completed")
    assert "completed" in completed.body.lower()
    assert "Service partly provided" in completed.body  # the outcome, not just the status
    # Every one of them reached the clinic's inbox.
    assert [m.to for m in mail.outbox[2:]] == [[loop.clinic_staff.email]] * 5
    assert "Service partly provided" in mail.outbox[-1].body


@pytest.mark.parametrize(
    ("to", "extra", "told"),
    [
        ("rejected", {"reason": "Outside our area"}, "declined"),
        ("cancelled", {"reason": "Duplicate"}, "cancelled"),
    ],
)
def test_the_clinic_hears_a_refusal(loop, committed, to, extra, told):
    referral = committed(loop.send, now=SENT_AT)

    referral = committed(agency_says, loop, referral, to, **extra)

    (row,) = Notification.objects.filter(
        referral=referral, user=loop.clinic_staff, channel=Channel.IN_APP
    )
    assert row.kind == f"referral_{to}"
    assert told in row.body.lower()


def test_a_failed_referral_tells_the_clinic_its_outcome(loop, committed):
    referral = committed(loop.send, now=SENT_AT)
    referral = committed(agency_says, loop, referral, "accepted")

    referral = committed(
        agency_says, loop, referral, "failed", reason="Three calls", outcome="client-unreachable"
    )

    row = Notification.objects.get(
        referral=referral, user=loop.clinic_staff, channel=Channel.IN_APP, kind="referral_failed"
    )
    assert "Client could not be reached" in row.body


def test_the_agency_hears_when_the_clinic_cancels(loop, committed):
    referral = committed(loop.send, now=SENT_AT)

    committed(
        referral_transition,
        referral=referral,
        to="cancelled",
        by=loop.clinic_staff,
        organization=loop.clinic,
        version=referral.version,
        reason="Client found help elsewhere",
    )

    told = Notification.objects.filter(
        referral=referral, kind="referral_cancelled", channel=Channel.IN_APP
    )
    assert {n.user for n in told} == {loop.agency_staff, loop.tenant.users[Role.AGENCY_ADMIN]}


def test_an_answer_reaches_the_clinic_after_the_sender_left(loop, committed):
    referral = committed(loop.send, now=SENT_AT)
    leaving = loop.clinic_staff.memberships.get(organization=loop.clinic)
    services.membership_revoke(membership=leaving)

    committed(agency_says, loop, referral, "accepted")

    told = Notification.objects.filter(referral=referral, kind="referral_accepted")
    assert {n.user for n in told} == {loop.tenant.users[Role.CLINIC_ADMIN]}


def test_emails_carry_no_client_data(loop, committed):
    client = loop.client
    private = [
        client.first_name,
        client.last_name,
        client.phone,
        client.email,
        "555-0100",
        "Call her after five",
        "Thursday at 707",
    ]
    referral = committed(loop.send, now=SENT_AT, note="Call her after five: Maria Lopez")
    referral = committed(agency_says, loop, referral, "accepted")
    committed(
        referral_message,
        referral=referral,
        by=loop.agency_staff,
        organization=loop.food_agency,
        text="Maria Lopez will come Thursday at 707-555-0100",
    )
    committed(
        agency_says,
        loop,
        referral,
        "completed",
        outcome="service-provided",
        outcome_note="Maria Lopez got a food box",
    )

    assert len(mail.outbox) == 5
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        for value in private:
            assert value.lower() not in text.lower(), (value, text)
        assert f"http://testserver/workspace/referrals/{referral.pk}/" in message.body
    for row in Notification.objects.all():
        for value in private:
            assert value.lower() not in f"{row.subject} {row.body}".lower()
