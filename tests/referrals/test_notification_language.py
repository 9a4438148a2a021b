"""Notifications in their reader's language (issue 15, bug 9): every kind renders in Spanish
with no English left and in English; the outbox row and the email of each recipient are in
that person's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import pytest
from django.core import mail
from django.db import transaction
from django.utils import translation

from network.models import Role, User
from referrals import notification_texts as texts
from referrals.lifecycle import SET_BY
from referrals.models import Notification, Referral, ReferralOutcome, ReferralStatus
from referrals.outbox import notifications_deliver
from referrals.services.notifications import notify, recipient_language
from tests.referrals.factories import Loop, move

pytestmark = pytest.mark.django_db

ALTERNATIVES = ["Qwx Pantry (Zyv Aid)"]
# Words both languages write the same way: "no use ni guarde", "ingresada por error".
SHARED_WORDS = {"use", "error"}


def every_kind(referral: Referral, loop: Loop) -> dict[str, Callable[[], texts.Texts]]:
    """Each kind of notification the services write, with the texts it is written with."""
    kinds: dict[str, Callable[[], texts.Texts]] = {
        "referral_received": partial(texts.received_texts, referral, loop.clinic),
        "referral_due": partial(texts.answer_due_texts, referral, due=True),
        "referral_due_soon": partial(texts.answer_due_texts, referral, due=False),
        "referral_outcome_overdue": partial(texts.outcome_overdue_texts, referral, loop.clinic),
        "referral_overdue": partial(texts.overdue_texts, referral, loop.food_agency, ALTERNATIVES),
        "referral_overdue (no alternatives)": partial(
            texts.overdue_texts, referral, loop.food_agency, []
        ),
        "referral_message": partial(texts.message_texts, referral, loop.food_agency),
        "referral_consent_revoked": partial(texts.consent_ended_texts, referral),
        "referral_consent_expired": partial(texts.consent_ended_texts, referral),
        "referral_unreceived": partial(texts.unreceived_texts, referral),
    }
    for status in SET_BY:
        kinds[f"referral_{status}"] = partial(
            texts.status_texts, referral, loop.food_agency, status
        )
    for outcome in ReferralOutcome.values:
        kinds[f"referral_completed ({outcome})"] = partial(
            texts.status_texts, referral, loop.food_agency, ReferralStatus.COMPLETED, outcome
        )
    return kinds


def words(text: str, names: list[str]) -> set[str]:
    """The words of ``text`` once the names in it (services, organizations) are taken out."""
    for name in names:
        text = text.replace(name, " ")
    return {w.lower() for w in re.findall(r"[^\W\d_]{3,}", text)}


def rendered(language: str, make: Callable[[], texts.Texts]) -> str:
    with translation.override(language):
        subject, body = make()
    return f"{subject}\n{body}"


def test_every_kind_renders_in_spanish_with_no_english_left(loop):
    referral = loop.send()
    names = [referral.service_name, loop.clinic.name, loop.food_agency.name, *ALTERNATIVES]
    english_left = {}
    for kind, make in every_kind(referral, loop).items():
        english, spanish = rendered("en", make), rendered("es", make)
        assert english != spanish, kind
        left = (words(english, names) & words(spanish, names)) - SHARED_WORDS
        if left:
            english_left[kind] = sorted(left)
    assert english_left == {}


def test_every_kind_renders_in_english(loop):
    referral = loop.send()
    for kind, make in every_kind(referral, loop).items():
        text = rendered("en", make)
        assert f"#{referral.pk}" in text.split("\n")[0] or kind.startswith("referral_message")
        assert "%(" not in text, kind


def test_the_answer_due_time_is_in_the_networks_zone_and_format(loop):
    referral = loop.send()
    text = rendered("en", partial(texts.answer_due_texts, referral, due=True))
    assert texts.local_time(referral, referral.response_due_at) in text


def _speaking(user: User, language: str) -> User:
    User.objects.filter(pk=user.pk).update(preferred_language=language)
    user.refresh_from_db()
    return user


def test_each_recipient_reads_the_received_notification_in_their_language(loop):
    """The send writes the agency's rows in one INSERT … SELECT: each takes its holder's
    language (``es-MX`` is Spanish; an unknown language falls back to the site's)."""
    spanish = _speaking(loop.agency_staff, "es-MX")
    english = _speaking(
        loop.food_agency_admin
        if hasattr(loop, "food_agency_admin")
        else loop.tenant.users["agency_admin"],
        "hmn",
    )
    referral = loop.send()
    rows = Notification.objects.filter(referral=referral, kind="referral_received")
    by_user = {n.user_id: n for n in rows}
    with translation.override("es"):
        subject_es, body_es = texts.received_texts(referral, loop.clinic)
    with translation.override("en"):
        subject_en, body_en = texts.received_texts(referral, loop.clinic)
    assert (by_user[spanish.pk].subject, by_user[spanish.pk].body) == (subject_es, body_es)
    assert (by_user[english.pk].subject, by_user[english.pk].body) == (subject_en, body_en)
    assert subject_es != subject_en


def test_a_status_change_reaches_the_clinic_in_its_language_in_the_app_and_by_email(loop):
    staff = _speaking(loop.clinic_staff, "es")
    referral = loop.send()
    move(referral, "rejected", loop.agency_staff, loop.food_agency, reason="Sin cupo.")
    referral.refresh_from_db()
    rows = list(Notification.objects.filter(user=staff, kind="referral_rejected"))
    assert {n.channel for n in rows} == {"in_app", "email"}
    with translation.override("es"):
        subject, body = texts.status_texts(
            referral, loop.food_agency, "rejected", "", referral.reason_code
        )
    assert "Motivo: Otro." in body
    assert {(n.subject, n.body) for n in rows} == {(subject, body)}
    mail.outbox.clear()
    notifications_deliver(ids=[n.pk for n in rows])
    assert [m.subject for m in mail.outbox] == [subject]
    assert body in mail.outbox[0].body


def test_notify_renders_each_language_once(loop):
    referral = loop.send()
    calls = []

    def make() -> texts.Texts:
        calls.append(translation.get_language())
        return texts.message_texts(referral, loop.clinic)

    _speaking(loop.agency_staff, "es")
    with transaction.atomic():
        notify(
            [loop.agency_staff, loop.tenant.users[Role.AGENCY_ADMIN], loop.agency_staff],
            referral=referral,
            kind="referral_message",
            texts=make,
        )
    assert sorted(calls) == ["en", "es"]


@pytest.mark.parametrize(
    ("preferred", "language"),
    [("", "en"), ("es", "es"), ("ES-mx", "es"), ("hmn", "en"), ("en-US", "en")],
)
def test_recipient_language(preferred, language):
    assert recipient_language(preferred) == language


def test_every_kind_the_services_write_is_rendered_above(loop):
    """A kind added to a service without a case above fails here: its texts are untested."""
    import re
    from pathlib import Path

    source = "\n".join(
        path.read_text() for path in Path(texts.__file__).parent.joinpath("services").glob("*.py")
    )
    written = set(re.findall(r'kind="(referral_[a-z_]+)"', source))
    referral = loop.send()
    assert written
    assert written <= set(every_kind(referral, loop))
