"""What the hot lists' rows (the inbox, the tracker) write in Python rather than by template
loops: a template resolves some thirty variables and filters a row."""

from __future__ import annotations

from datetime import datetime, tzinfo

from django.utils import dateformat
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime


def time_html(value: datetime, zone: tzinfo | None = None) -> SafeString:
    """``<time datetime="…">`` and the date and time as the language writes them, in ``zone``
    (the current time zone if None): what ``{{ value|date:"DATETIME_FORMAT" }}`` shows."""
    local = localtime(value, zone)
    return format_html(
        '<time datetime="{}">{}</time>',
        dateformat.format(local, "c"),
        date_format(local, "DATETIME_FORMAT"),
    )
