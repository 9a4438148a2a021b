"""Free text on a referral is client data: the note, messages, reasons and outcome notes reach
the agency only while consent and the agreement allow the referral's details (the agreement's
``note`` field is its permission for the clinic's words), are withdrawn with the rest, and each
display is logged naming the free text it showed. The clinic reads the agency's words (logged);
no other agency ever does. Notifications and e-mails carry none of it.

Instants are derived from now: nothing here depends on the date it runs on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from consent.models import AccessLog, ClientField, Consent
from referrals.models import Notification, Referral
from referrals.services.overdue import referrals_overdue_process
from referrals.services.transitions import referral_message
from tests.conftest import act_as, queries_cold
from tests.referrals.factories import AGREED_FIELDS, Loop, move

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

# Each text names a birth date and a diagnosis, as the finding's message did; the pair is its
# marker. Dates are decades away from any timestamp a response carries.
WORDS: dict[str, tuple[str, str, str]] = {  # name: (text, birth date, diagnosis code)
    "note": ("Born 1961-01-11; diagnosis E11.9, type 2 diabetes.", "1961-01-11", "E11.9"),
    "clinic message": ("Born 1962-02-12, treated for F32.1 depression.", "1962-02-12", "F32.1"),
    "clinic reason": ("Cancelled: born 1963-03-13, admitted with I21.4.", "1963-03-13", "I21.4"),
    "agency message": ("She (born 1964-04-14) has J45.909 asthma.", "1964-04-14", "J45.909"),
    "agency reason": ("Waiting: born 1965-05-15, K50.90 flare.", "1965-05-15", "K50.90"),
    "agency outcome": ("Two boxes; born 1966-06-16, Z59.41 noted.", "1966-06-16", "Z59.41"),
    "housing message": ("Intake: born 1967-07-17, G40.909 seizures.", "1967-07-17", "G40.909"),
}
TEXTS = {name: text for name, (text, _born, _code) in WORDS.items()}
MARKERS = {name: (born, code) for name, (_text, born, code) in WORDS.items()}
CLINIC_WORDS = {"note", "clinic message", "clinic reason"}
AGENCY_WORDS = {"agency message", "agency reason", "agency outcome"}
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def found(body: str, names: set[str] | None = None) -> set[str]:
    """Which texts' markers (birth date or diagnosis code) ``body`` carries."""
    return {name for name in names or set(TEXTS) if any(marker in body for marker in MARKERS[name])}


def body_of(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return _CSRF.sub("", response.content.decode())


@dataclass
class Conversation:
    """Three referrals of the loop's client to the food agency, with every kind of words:
    ``open`` (the note, a message each way, the agency's hold reason), ``done`` (the agency's
    outcome note) and ``cancelled`` (the clinic's reason)."""

    loop: Loop
    open: Referral
    done: Referral
    cancelled: Referral

    @property
    def referrals(self) -> list[Referral]:
        return [self.open, self.done, self.cancelled]


def converse(loop: Loop) -> Conversation:
    clinic = {"by": loop.clinic_staff, "organization": loop.clinic}
    agency = {"by": loop.agency_staff, "organization": loop.food_agency}
    first = loop.send(key="open", note=TEXTS["note"])
    referral_message(referral=first, text=TEXTS["clinic message"], **clinic)
    move(first, "accepted", **agency)
    referral_message(referral=first, text=TEXTS["agency message"], **agency)
    move(first, "on-hold", reason=TEXTS["agency reason"], **agency)
    done = loop.send(key="done")
    move(done, "accepted", **agency)
    move(
        done,
        "completed",
        outcome="service-provided",
        outcome_note=TEXTS["agency outcome"],
        **agency,
    )
    cancelled = loop.send(key="cancelled")
    move(cancelled, "cancelled", reason=TEXTS["clinic reason"], **clinic)
    for referral in (first, done, cancelled):
        referral.refresh_from_db()
    return Conversation(loop=loop, open=first, done=done, cancelled=cancelled)


@pytest.fixture
def conversation(loop: Loop, django_capture_on_commit_callbacks) -> Conversation:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):  # e-mails go out as after commit
        return converse(loop)


def surfaces(client, conversation: Conversation) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every page and API answer about the referrals, as the signed-in person gets them."""
    out: dict[str, str] = {}
    for referral in conversation.referrals:
        pk = referral.pk
        out[f"page {pk}"] = body_of(client.get(reverse("referrals:referral_detail", args=[pk])))
        out[f"api {pk}"] = body_of(client.get(reverse("referrals:api:referral", args=[pk])))
    out["api list"] = body_of(client.get(reverse("referrals:api:referrals")))
    return out


def agency_surfaces(client, conversation: Conversation) -> dict[str, str]:  # type: ignore[no-untyped-def]
    loop = conversation.loop
    act_as(client, loop.agency_staff, loop.food_agency)
    out = surfaces(client, conversation)
    for tab in ("new", "overdue", "in_progress", "waiting"):
        out[f"inbox {tab}"] = body_of(client.get(reverse("referrals:referral_inbox"), {"tab": tab}))
    out["notifications"] = body_of(client.get(reverse("referrals:notification_list")))
    return out


def messages_out() -> dict[str, str]:
    """Every notification (in-app and e-mail rows) and every e-mail sent, as text."""
    out = {f"notification {n.pk}": f"{n.subject}\n{n.body}" for n in Notification.objects.all()}
    for i, message in enumerate(mail.outbox):
        out[f"email {i}"] = f"{message.subject}\n{message.body}"
    return out


def logged_fields(referral: Referral, organization_id: int) -> list[list[str]]:
    """The fields each display of the referral's page or API logged (the inbox logs its own)."""
    return [
        row.fields
        for row in AccessLog.objects.filter(
            referral=referral, organization_id=organization_id
        ).exclude(purpose="inbox")
    ]


# --- while consent and agreement allow it ----------------------------------------------------


def test_the_agency_reads_every_word_while_consented_and_each_display_is_logged(
    client, conversation
):
    loop = conversation.loop
    act_as(client, loop.agency_staff, loop.food_agency)
    by_referral = {
        conversation.open: {"note", "clinic message", "agency message", "agency reason"},
        conversation.done: {"agency outcome"},
        conversation.cancelled: {"clinic reason"},
    }
    for referral, names in by_referral.items():
        page = body_of(client.get(reverse("referrals:referral_detail", args=[referral.pk])))
        api = client.get(reverse("referrals:api:referral", args=[referral.pk]))
        assert found(page) == names, referral
        assert found(body_of(api)) == names, referral
        assert api.json()["text_withheld"] is False
    assert api.json()["status_reason"] == TEXTS["clinic reason"]
    act_as(client, loop.clinic_staff, loop.clinic)
    page = body_of(client.get(reverse("referrals:referral_detail", args=[conversation.open.pk])))
    assert 'data-testid="agency-cannot-read"' not in page
    # Each display is one row naming the client fields and the clinic's words it showed; the
    # agency's own words are not a disclosure to it.
    agreed = sorted(AGREED_FIELDS)
    assert (
        logged_fields(conversation.open, loop.food_agency.pk) == [sorted({*agreed, "messages"})] * 2
    )
    assert logged_fields(conversation.done, loop.food_agency.pk) == [agreed] * 2
    assert (
        logged_fields(conversation.cancelled, loop.food_agency.pk)
        == [sorted({*agreed, "status_reason"})] * 2
    )


def test_lists_inbox_notifications_and_emails_never_carry_the_words(client, conversation):
    bodies = agency_surfaces(client, conversation)
    lists = ["api list", "notifications", *(n for n in bodies if n.startswith("inbox"))]
    for name in lists:
        assert found(bodies[name]) == set(), name
    assert "Referral #" in bodies["notifications"]  # the in-app list did have rows
    act_as(client, conversation.loop.clinic_staff, conversation.loop.clinic)
    assert found(body_of(client.get(reverse("referrals:api:referrals")))) == set()
    sent = messages_out()
    assert any(name.startswith("email") for name in sent)  # the e-mails did go out
    for name, text in sent.items():
        assert found(text) == set(), name
    for message in mail.outbox:  # they link to the page instead
        assert "/workspace/referrals/" in message.body


# --- withdrawn -------------------------------------------------------------------------------


def _revoked(loop: Loop) -> None:
    consent_services.consent_revoke(
        consent=loop.consent, by=loop.clinic_staff, reason="The client withdrew consent."
    )


def _expired(loop: Loop) -> None:
    now = timezone.now()
    Consent.objects.filter(pk=loop.consent.pk).update(expires_at=now - timedelta(minutes=1))
    referrals_overdue_process(now=now)  # the sweep tells both sides


def _agreement_terminated(loop: Loop) -> None:
    consent_services.agreement_terminate(agreement=loop.agreements["food"], by=loop.admin)


WITHDRAW: dict[str, Callable[[Loop], None]] = {
    "consent revoked": _revoked,
    "consent expired": _expired,
    "agreement terminated": _agreement_terminated,
}


@pytest.mark.parametrize("case", list(WITHDRAW))
def test_every_word_is_withdrawn_with_the_details(
    client, conversation, django_capture_on_commit_callbacks, case
):
    loop = conversation.loop
    with django_capture_on_commit_callbacks(execute=True):
        WITHDRAW[case](loop)
    logged_before = AccessLog.objects.count()
    bodies = agency_surfaces(client, conversation)
    for name, body in bodies.items():
        # The agency's own words go too: it must not use or keep what it learned of the client.
        assert found(body) == set(), name
    page = bodies[f"page {conversation.open.pk}"]
    assert 'data-testid="withdrawn"' in page
    assert 'data-testid="text-withheld"' in page
    detail = client.get(reverse("referrals:api:referral", args=[conversation.open.pk])).json()
    assert (detail["withdrawn"], detail["text_withheld"]) == (True, True)
    assert (detail["status_reason"], detail["outcome_note"]) == ("", "")
    assert any(event["text_withheld"] for event in detail["timeline"])
    assert AccessLog.objects.count() == logged_before  # nothing shown, nothing logged
    for name, text in messages_out().items():
        assert found(text) == set(), name
    # The clinic keeps every word: the client is theirs.
    act_as(client, loop.clinic_staff, loop.clinic)
    clinic = surfaces(client, conversation)
    assert found(" ".join(clinic.values())) == CLINIC_WORDS | AGENCY_WORDS
    assert 'data-testid="agency-cannot-read"' in clinic[f"page {conversation.open.pk}"]


def _narrowed_after_sending(loop: Loop, conversation: Conversation) -> None:
    narrower = consent_services.agreement_create(
        by=loop.admin,
        agency=loop.food_agency,
        fields=[f for f in AGREED_FIELDS if f != ClientField.NOTE],
        effective_from=loop.agreements["food"].effective_from,
    )
    consent_services.agreement_activate(agreement=narrower, by=loop.admin)


def test_an_agreement_without_the_note_keeps_the_clinics_words_from_the_agency(
    client, conversation
):
    loop = conversation.loop
    _narrowed_after_sending(loop, conversation)
    bodies = agency_surfaces(client, conversation)
    for name, body in bodies.items():
        assert found(body, CLINIC_WORDS) == set(), name
    # The agency still reads what it wrote itself, and the client's other agreed fields.
    assert found(bodies[f"page {conversation.open.pk}"]) == {"agency message", "agency reason"}
    assert found(bodies[f"api {conversation.done.pk}"]) == {"agency outcome"}
    assert "Maria Lopez" in bodies[f"page {conversation.open.pk}"]
    assert 'data-testid="text-withheld"' in bodies[f"page {conversation.open.pk}"]
    cancelled = client.get(reverse("referrals:api:referral", args=[conversation.cancelled.pk]))
    assert cancelled.json()["status_reason"] == ""
    assert cancelled.json()["text_withheld"] is True
    shown = sorted(f for f in AGREED_FIELDS if f != ClientField.NOTE)
    for referral in conversation.referrals:
        rows = logged_fields(referral, loop.food_agency.pk)
        assert rows, referral
        assert all(row == shown for row in rows), referral
    # The clinic is told before it writes that the agency will not read it.
    act_as(client, loop.clinic_staff, loop.clinic)
    page = body_of(client.get(reverse("referrals:referral_detail", args=[conversation.open.pk])))
    assert 'data-testid="agency-cannot-read"' in page


# --- the clinic, and nobody else -------------------------------------------------------------


def test_the_clinic_reads_the_agencys_words_and_each_display_is_logged(client, conversation):
    loop = conversation.loop
    act_as(client, loop.clinic_staff, loop.clinic)
    bodies = surfaces(client, conversation)
    assert found(bodies[f"page {conversation.open.pk}"]) == {
        "note",
        "clinic message",
        "agency message",
        "agency reason",
    }
    assert found(bodies[f"api {conversation.done.pk}"]) == {"agency outcome"}
    assert found(bodies[f"page {conversation.cancelled.pk}"]) == {"clinic reason"}
    # Each display is the clinic's own read of its client (every field), naming the agency's
    # words it read; its own words are not named.
    client_fields = sorted(ClientField.values)
    assert (
        logged_fields(conversation.open, loop.clinic.pk)
        == [sorted([*client_fields, "messages", "status_reason"])] * 2
    )
    assert (
        logged_fields(conversation.done, loop.clinic.pk)
        == [sorted([*client_fields, "outcome_note"])] * 2
    )
    assert logged_fields(conversation.cancelled, loop.clinic.pk) == [client_fields] * 2


def test_another_agency_the_client_was_referred_to_never_reads_them(client, conversation):
    loop = conversation.loop
    housing = loop.send(loop.housing, key="housing")
    staff = loop.users["housing_staff"]
    referral_message(
        referral=housing, by=staff, organization=loop.housing_agency, text=TEXTS["housing message"]
    )
    act_as(client, staff, loop.housing_agency)
    for referral in conversation.referrals:
        for url in (
            reverse("referrals:referral_detail", args=[referral.pk]),
            reverse("referrals:api:referral", args=[referral.pk]),
        ):
            response = client.get(url)
            assert response.status_code == 404, url
            assert found(response.content.decode()) == set(), url
    own = [
        client.get(reverse("referrals:referral_detail", args=[housing.pk])),
        client.get(reverse("referrals:api:referral", args=[housing.pk])),
        client.get(reverse("referrals:api:referrals")),
        client.get(reverse("referrals:referral_inbox")),
    ]
    for response in own:
        assert found(body_of(response), CLINIC_WORDS | AGENCY_WORDS) == set()
    assert found(body_of(own[0])) == {"housing message"}
    # Nor does the food agency read the housing agency's words.
    act_as(client, loop.agency_staff, loop.food_agency)
    assert client.get(reverse("referrals:api:referral", args=[housing.pk])).status_code == 404
    assert not AccessLog.objects.filter(
        referral__in=conversation.referrals, organization=loop.housing_agency
    ).exists()


@pytest.mark.parametrize("side", ["clinic", "agency"])
def test_the_page_and_api_cost_the_same_queries_for_any_number_of_words(client, loop, side):
    referral = loop.send(note=TEXTS["note"])
    speakers = [
        {"by": loop.clinic_staff, "organization": loop.clinic},
        {"by": loop.agency_staff, "organization": loop.food_agency},
    ]

    def talk(times: int) -> None:
        for n in range(times):
            for speaker in speakers:
                referral_message(referral=referral, text=f"Message {n}", **speaker)

    talk(1)  # both sides' words already there: the first display logs them
    reader = speakers[0] if side == "clinic" else speakers[1]
    act_as(client, reader["by"], reader["organization"])
    urls = [
        reverse("referrals:referral_detail", args=[referral.pk]),
        reverse("referrals:api:referral", args=[referral.pk]),
    ]
    for url in urls:  # the agency's first visit writes its "opened" event, each its log row
        client.get(url)
    few = [queries_cold(client, url) for url in urls]
    talk(10)
    assert [queries_cold(client, url) for url in urls] == few
