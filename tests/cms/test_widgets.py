"""The product's faster renderings give what Django's own would."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.utils import translation

from cms.widgets import ListSelect
from referrals.models import Referral, ReferralStatus, Urgency

CHOICES = [
    ("", "Any"),
    ("Food", [("pantry", "Pantry <b>"), ("meals", "Meals")]),
    ("rent", "Rent & deposit"),
]


def _squeezed(html: str) -> str:
    return re.sub(r"\s+", " ", html).replace("> <", "><").strip()


@pytest.mark.parametrize("value", ["", "meals", "rent", "unknown"])
def test_the_list_select_writes_what_djangos_select_writes(value: str) -> None:
    attrs = {"id": "id_need", "class": "wide", "required": True}
    django = forms.Select(choices=CHOICES).render("need", value, attrs)
    ours = ListSelect(choices=CHOICES).render("need", value, attrs)
    assert _squeezed(ours) == _squeezed(django)
    assert "Pantry &lt;b&gt;" in ours  # labels are escaped


@pytest.mark.parametrize("language", ["en", "es"])
def test_status_and_urgency_labels_are_the_choice_labels(language: str) -> None:
    with translation.override(language):
        for status in ReferralStatus:
            referral = Referral(status=status, urgency=Urgency.URGENT)
            assert referral.status_label == referral.get_status_display()
            assert referral.urgency_label == referral.get_urgency_display()
