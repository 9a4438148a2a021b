"""The hot lists' row writing (referrals.views.rows): labels put in once, fields escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from django.utils.formats import date_format
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.timezone import localtime
from django.utils.translation import gettext

from referrals.models import STATUS_LABELS, Referral, ReferralStatus
from referrals.views.rows import Ages, Labels, Times, row_format, row_template


def test_a_label_is_escaped_once_and_its_braces_are_text():
    template = row_template('<td data-label="{label}">{cell}</td>', label='A {cell} & "b"')
    assert template == '<td data-label="A {{cell}} &amp; &quot;b&quot;">{cell}</td>'
    assert row_format(template, cell="x") == '<td data-label="A {cell} &amp; &quot;b&quot;">x</td>'


def test_a_field_is_escaped_unless_it_is_html_already():
    row = row_format(
        "<td>{text}</td><td>{html}</td><td>{n}</td>", text="<b>", html=SafeString("<i>x</i>"), n=7
    )
    assert row == "<td>&lt;b&gt;</td><td><i>x</i></td><td>7</td>"


@pytest.mark.parametrize(
    "value", ["O'Brien & <Sons>", '"quoted"', "plain", "", 0, 12345, SafeString("<i>&amp;</i>")]
)
def test_a_field_is_written_as_conditional_escape_writes_it(value):
    assert row_format("{v}", v=value) == str(conditional_escape(value))


# Fixed moments: before and after noon, midnight, noon, a day of the month with one digit and
# two, the hour the clocks go forward in Los Angeles.
MOMENTS = [
    datetime(2026, 3, 8, 10, 30, tzinfo=UTC),  # 03:30 in Los Angeles, the clocks just moved
    datetime(2026, 3, 8, 9, 59, tzinfo=UTC),  # 01:59, before they moved
    datetime(2026, 12, 24, 8, 0, tzinfo=UTC),  # midnight
    datetime(2026, 12, 24, 20, 0, tzinfo=UTC),  # noon
    datetime(2026, 7, 1, 23, 5, tzinfo=UTC),  # 16:05
]


@pytest.mark.parametrize("language", ["en", "es"])
def test_times_write_what_the_date_filter_writes_in_the_zone(language):
    """Times splits the language's format once (Spanish's has escaped letters: "j \\d\\e F"),
    then writes each value as Django's ``date_format`` does."""
    zone = ZoneInfo("America/Los_Angeles")
    with translation.override(language):
        times = Times(zone)
        for moment in MOMENTS:
            local = localtime(moment, zone)
            assert times.text(moment) == date_format(local, "DATETIME_FORMAT")
            assert times.html(moment) == (
                f'<time datetime="{local.isoformat()}">{date_format(local, "DATETIME_FORMAT")}'
                "</time>"
            )
    assert localtime(MOMENTS[0], zone).isoformat() == "2026-03-08T03:30:00-07:00"
    with translation.override("es"):
        assert Times(zone).text(MOMENTS[3]) == "24 de diciembre de 2026, 12:00 p.m."
    with translation.override("en"):
        assert Times(zone).text(MOMENTS[2]) == "Dec 24, 2026, 12:00 AM"


@pytest.mark.parametrize("language", ["en", "es"])
def test_labels_are_the_models_labels_in_the_active_language(language):
    with translation.override(language):
        labels = Labels(STATUS_LABELS)
        for status in ReferralStatus.values:
            assert labels(status) == Referral(status=status).status_label
        assert labels("not-a-code") == "not-a-code"
    assert Labels(STATUS_LABELS)(ReferralStatus.REQUESTED) == "Requested"


# Fixed moments (no clock read): each unit, two units, the last unit left out, none at all.
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
AGES = [
    timedelta(seconds=30),
    timedelta(minutes=1),
    timedelta(minutes=75),
    timedelta(days=1, hours=2),
    timedelta(days=15),
    timedelta(days=70, hours=5),
    timedelta(days=800),
    timedelta(days=-3),  # in the future: "0 minutes"
]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("depth", [1, 2])
def test_ages_write_what_timesince_writes(language, depth):
    with translation.override(language):
        ages = Ages()
        for _twice in range(2):  # the second time from the words kept for each count
            for age in AGES:
                expected = gettext("%(age)s ago") % {"age": timesince(NOW - age, NOW, depth=depth)}
                assert ages.ago(NOW - age, NOW, depth=depth) == expected
    with translation.override("es"):
        assert Ages().ago(NOW - timedelta(days=15), NOW) == "hace 2\xa0semanas, 1\xa0día"
