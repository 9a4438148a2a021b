"""What the hot lists (the inbox, the tracker) share: their rows are written in Python rather
than by template loops (a template resolves some thirty variables and filters a row), and their
pages are counted once, not by the paginator."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils import dateformat
from django.utils.formats import date_format
from django.utils.functional import cached_property
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


class CountedPaginator(Paginator):
    """A paginator told how many objects there are (counted already), so it asks no COUNT."""

    def __init__(self, object_list: QuerySet[Any, Any], per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count
