"""Screening a client with the AHC HRSN form, then its result."""

from __future__ import annotations

import pytest
from django.urls import reverse

from referrals.forms import question_field_name
from referrals.models import Screening
from referrals.screening import QUESTIONS
from referrals.services.clients import screening_record


def _url(loop) -> str:  # type: ignore[no-untyped-def]
    return reverse("referrals:screening_new", args=[loop.client.pk])


def _answers(**by_code: object) -> dict[str, object]:
    return {question_field_name(code): value for code, value in by_code.items()}


@pytest.mark.django_db
def test_the_form_groups_each_question_in_a_labelled_fieldset(staff, loop):
    body = staff.get(_url(loop)).content.decode()
    assert body.count("<fieldset") == len(QUESTIONS)
    assert body.count("<legend>") == len(QUESTIONS)
    assert 'type="radio"' in body
    assert 'type="checkbox"' in body
    # Every input has its label.
    assert body.count('<label class="check" for="') == sum(
        len(q.answers) + (0 if q.multiple else 1) for q in QUESTIONS.values()
    )


@pytest.mark.django_db
def test_screening_is_recorded_and_its_result_shown(staff, loop):
    data = {
        **{question_field_name(code): "" for code, q in QUESTIONS.items() if not q.multiple},
        **_answers(
            **{
                "71802-3": "LA31994-9",  # worried about losing housing
                "96778-6": ["LA31996-4", "LA28580-1"],  # pests and mold
                "88122-7": "LA6729-3",
                "88123-5": "LA28398-8",
                "93030-5": "LA32-8",
                "96779-4": "LA32-8",
            }
        ),
    }
    response = staff.post(_url(loop), data)
    screening = Screening.objects.get()
    result_url = reverse("referrals:screening_detail", args=[loop.client.pk, screening.pk])
    assert response.status_code == 302
    assert response["Location"] == result_url
    assert (screening.performed_by, screening.organization) == (loop.clinic_staff, loop.clinic)
    assert screening.answers["96778-6"] == ["LA31996-4", "LA28580-1"]
    assert screening.positive_categories == [
        "food-insecurity",
        "housing-instability",
        "inadequate-housing",
    ]
    assert screening.incomplete == ["safety"]
    body = staff.get(result_url).content.decode()
    assert "Living situation, Housing quality, Food" in body
    assert "Housing conditions" in body  # inadequate-housing, by its plain name
    assert "Interpersonal safety" in body  # not scored: unanswered
    search = screening.search_url().replace("&", "&amp;")
    assert f"{search}&amp;language=es&amp;client={loop.client.pk}" in body
    consent = reverse("referrals:consent_new", args=[loop.client.pk])
    assert f"{consent}?categories=food-insecurity" in body


@pytest.mark.django_db
def test_a_negative_screening_says_so(staff, loop):
    response = staff.post(_url(loop), _answers(**{"88122-7": "LA28398-8", "88123-5": "LA28398-8"}))
    body = staff.get(response["Location"]).content.decode()
    assert "No need screened positive." in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "Answer at least one question"),
        (_answers(**{"88122-7": "LA-bogus"}), "Select a valid choice."),
        (_answers(**{"96778-6": ["LA9-3", "LA28580-1"]}), "cannot be combined"),
    ],
)
def test_bad_answers_are_refused_and_nothing_written(staff, loop, data, error):
    response = staff.post(_url(loop), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Screening.objects.exists()


@pytest.mark.django_db
def test_wrong_roles_cannot_screen_or_see_a_result(intruder, loop):

    screening = screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers={"88122-7": "LA28397-0"},
    )
    assert intruder.get(_url(loop)).status_code in (403, 404)
    posted = intruder.post(_url(loop), _answers(**{"88122-7": "LA28397-0"}))
    assert posted.status_code in (403, 404)
    assert Screening.objects.count() == 1
    result = intruder.get(
        reverse("referrals:screening_detail", args=[loop.client.pk, screening.pk])
    )
    assert result.status_code in (403, 404)
    assert "Food Insecurity" not in result.content.decode()
