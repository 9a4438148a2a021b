"""What the hot lists (the inbox, the tracker) share: their rows are written in Python rather
than by template loops (a template resolves some thirty variables and filters a row), and their
pages are counted once, not by the paginator."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils import dateformat
from django.utils.formats import get_format
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

# A number that stands for a row's id in an address reversed once a page (no id reaches it).
URL_SLOT = 987654321987


class Times:
    """Dates and times of a page of rows in ``zone`` (the current time zone if None), as the
    language writes them: what ``{{ value|date:"DATETIME_FORMAT" }}`` shows. The language's
    format is looked up once a page."""

    def __init__(self, zone: tzinfo | None = None) -> None:
        self.zone = zone
        self.shown = get_format("DATETIME_FORMAT")

    def local(self, value: datetime) -> datetime:
        return localtime(value, self.zone)

    def text(self, value: datetime) -> str:
        """The date and time as the language writes them (``date_format``'s words)."""
        return dateformat.format(self.local(value), self.shown)

    def html(self, value: datetime) -> SafeString:
        """``<time datetime="…">`` around ``text``."""
        local = self.local(value)
        return SafeString(
            f'<time datetime="{escape(local.isoformat())}">'
            f"{escape(dateformat.format(local, self.shown))}</time>"
        )


def row_template(text: str, **constants: str) -> str:
    """``text`` (a ``str.format`` template) with ``constants`` (the labels every row repeats)
    put in once, escaped; the per-row fields stay to be filled by ``row_format``."""
    kept = {
        name: str(escape(value)).replace("{", "{{").replace("}", "}}")
        for name, value in constants.items()
    }
    return text.format_map(_Keep(kept))


def row_format(template: str, **fields: str | int | SafeString) -> str:
    """A row of ``row_template``: every field escaped unless it is already HTML."""
    # A SafeString is a str: kept as it is by conditional_escape; a number is written out.
    return template.format_map(
        {
            name: conditional_escape(value if isinstance(value, str) else str(value))
            for name, value in fields.items()
        }
    )


class _Keep(dict[str, str]):
    """What ``row_template`` leaves for the rows: a field it is not given stays a field."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class CountedPaginator(Paginator):
    """A paginator told how many objects there are (counted already), so it asks no COUNT."""

    def __init__(self, object_list: QuerySet[Any, Any], per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count
