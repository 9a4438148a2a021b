"""A page of received referrals is disclosed by the rule of one referral: ``fields_disclosed``
reads whom a page's consents name once for the page (only for the consents that are not
network-wide, and for sensitive needs), and decides as ``consent_covers`` does for each."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent.models import ClientField, Consent
from consent.selectors import agreement_for, consent_covers, consents_naming
from referrals.disclosure import fields_disclosed
from referrals.models import Referral
from referrals.selectors.inbox import referral_inbox_rows
from tests.consent.factories import consent_verbal
from tests.referrals.factories import AGREED_FIELDS, Loop

pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

FOOD = "food-insecurity"
VIOLENCE = "intimate-partner-violence"  # sensitive in every network
AGREED = frozenset(AGREED_FIELDS)


def consent(loop: Loop, categories: list[str], **kwargs: object) -> Consent:
    kwargs.setdefault("whole_network", not kwargs.get("recipients"))
    return consent_verbal(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=categories,
        **kwargs,
    )


def page_of_cases(loop: Loop) -> dict[str, tuple[Referral, frozenset[str]]]:
    """One referral to the food agency per way a consent can name it, each with the fields the
    agency may see: sent under a consent that covers everything, then given the case's consent
    and needs (as a consent edited or a referral of an older consent would hold them)."""
    consent(
        loop,
        [FOOD, VIOLENCE],
        recipients=[loop.food_agency],
        sensitive_recipients=[loop.food_agency],
    )
    cases = {
        "whole network": (consent(loop, [FOOD]), [FOOD], AGREED),
        "names the agency": (consent(loop, [FOOD], recipients=[loop.food_agency]), [FOOD], AGREED),
        "names another agency": (
            consent(loop, [FOOD], recipients=[loop.housing_agency]),
            [FOOD],
            frozenset(),
        ),
        "sensitive, the agency named for it": (
            consent(loop, [FOOD, VIOLENCE], sensitive_recipients=[loop.food_agency]),
            [FOOD, VIOLENCE],
            AGREED,
        ),
        "sensitive, another agency named for it": (
            consent(loop, [FOOD, VIOLENCE], sensitive_recipients=[loop.housing_agency]),
            [FOOD, VIOLENCE],
            frozenset(),
        ),
        "sensitive consent, a need that is not": (
            consent(loop, [FOOD, VIOLENCE], sensitive_recipients=[loop.housing_agency]),
            [FOOD],
            AGREED,
        ),
        "named for sensitive needs only": (
            consent(
                loop,
                [FOOD, VIOLENCE],
                recipients=[loop.housing_agency],
                sensitive_recipients=[loop.food_agency],
            ),
            [FOOD, VIOLENCE],
            frozenset(),
        ),
    }
    page = {}
    for number, (label, (given, needs, fields)) in enumerate(cases.items()):
        referral = loop.send(key=f"case-{number}", categories=[FOOD, VIOLENCE])
        Referral.objects.filter(pk=referral.pk).update(consent=given, categories=needs)
        page[label] = (referral, fields)
    return page


def test_a_page_is_disclosed_as_each_of_its_referrals_alone(loop):
    cases = page_of_cases(loop)
    now = timezone.now()
    rows = referral_inbox_rows(
        user=loop.agency_staff,
        organization=loop.food_agency,
        keys=[referral.pk for referral, _fields in cases.values()],
    )
    disclosed = fields_disclosed(rows, loop.food_agency, at=now)
    assert {label: disclosed[referral.pk] for label, (referral, _f) in cases.items()} == {
        label: fields for label, (_r, fields) in cases.items()
    }
    assert ClientField.PREFERRED_LANGUAGE in AGREED
    # The same answers, one referral at a time, by consent_covers reading each consent itself.
    agreement = agreement_for(agency=loop.food_agency, clinic=loop.clinic, at=now)
    assert agreement is not None
    for label, (referral, fields) in cases.items():
        alone = Referral.objects.select_related("consent__network").get(pk=referral.pk)
        covered = consent_covers(
            alone.consent, recipient=loop.food_agency, categories=alone.categories, at=now
        )
        assert covered == bool(fields), label


def test_consents_that_need_no_names_cost_no_query(loop):
    """Network-wide consents without a sensitive need: the agreements are the page's one read."""
    referrals = [loop.send(key=f"plain-{n}") for n in range(3)]
    rows = referral_inbox_rows(
        user=loop.agency_staff,
        organization=loop.food_agency,
        keys=[referral.pk for referral in referrals],
    )
    assert all(row.consent.whole_network for row in rows)
    with CaptureQueriesContext(connection) as captured:
        disclosed = fields_disclosed(rows, loop.food_agency, at=timezone.now())
    assert len(captured) == 1, [q["sql"] for q in captured.captured_queries]
    assert all(disclosed[referral.pk] == AGREED for referral in referrals)


def test_a_page_of_named_consents_reads_the_names_in_one_query_each(loop):
    cases = page_of_cases(loop)
    rows = referral_inbox_rows(
        user=loop.agency_staff,
        organization=loop.food_agency,
        keys=[referral.pk for referral, _fields in cases.values()],
    )
    with CaptureQueriesContext(connection) as captured:
        fields_disclosed(rows, loop.food_agency, at=timezone.now())
    # The agreements, the consents naming the agency, those naming it for sensitive needs.
    assert len(captured) == 3, [q["sql"] for q in captured.captured_queries]


def test_consents_naming_answers_for_the_recipient_only(loop):
    named = consent(loop, [FOOD], recipients=[loop.food_agency])
    other = consent(loop, [FOOD], recipients=[loop.housing_agency])
    sensitive = consent(loop, [FOOD, VIOLENCE], sensitive_recipients=[loop.food_agency])
    ids = [named.pk, other.pk, sensitive.pk]
    assert consents_naming(loop.food_agency, consent_ids=ids) == {named.pk}
    assert consents_naming(loop.housing_agency, consent_ids=ids) == {other.pk}
    assert consents_naming(loop.food_agency, consent_ids=ids, sensitive=True) == {sensitive.pk}
    with CaptureQueriesContext(connection) as captured:
        assert consents_naming(loop.food_agency, consent_ids=[]) == frozenset()
    assert len(captured) == 0
