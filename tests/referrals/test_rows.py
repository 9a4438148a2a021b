"""The hot lists' row writing (referrals.views.rows): labels put in once, fields escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from referrals.views.rows import Times, row_format, row_template


def test_a_label_is_escaped_once_and_its_braces_are_text():
    template = row_template('<td data-label="{label}">{cell}</td>', label='A {cell} & "b"')
    assert template == '<td data-label="A {{cell}} &amp; &quot;b&quot;">{cell}</td>'
    assert row_format(template, cell="x") == '<td data-label="A {cell} &amp; &quot;b&quot;">x</td>'


def test_a_field_is_escaped_unless_it_is_html_already():
    row = row_format(
        "<td>{text}</td><td>{html}</td><td>{n}</td>", text="<b>", html=SafeString("<i>x</i>"), n=7
    )
    assert row == "<td>&lt;b&gt;</td><td><i>x</i></td><td>7</td>"


def test_times_write_what_the_date_filter_writes_in_the_zone():
    zone = ZoneInfo("America/Los_Angeles")
    moment = datetime(2026, 3, 8, 10, 30, tzinfo=UTC)  # 03:30 in Los Angeles
    times = Times(zone)
    local = localtime(moment, zone)
    assert times.text(moment) == date_format(local, "DATETIME_FORMAT")
    assert times.html(moment) == (
        f'<time datetime="{local.isoformat()}">{date_format(local, "DATETIME_FORMAT")}</time>'
    )
    assert local.isoformat() == "2026-03-08T03:30:00-07:00"
