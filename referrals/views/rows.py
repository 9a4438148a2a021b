"""What the hot lists (the inbox, the tracker) share: their rows are written in Python rather
than by template loops (a template resolves some thirty variables and filters a row), and their
pages are counted once, not by the paginator."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.dateformat import DateFormat, re_escaped, re_formatchars
from django.utils.formats import get_format
from django.utils.functional import cached_property
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.timesince import TIME_STRINGS, timesince
from django.utils.timezone import localtime
from django.utils.translation import gettext

# A number that stands for a row's id in an address reversed once a page (no id reaches it).
URL_SLOT = 987654321987


class Times:
    """Dates and times of a page of rows in ``zone`` (the current time zone if None), as the
    language writes them: what ``{{ value|date:"DATETIME_FORMAT" }}`` shows. The language's
    format is looked up and split into its pieces once a page (Django's ``dateformat.format``
    splits it again for every value)."""

    def __init__(self, zone: tzinfo | None = None) -> None:
        self.zone = zone
        self.shown = get_format("DATETIME_FORMAT")
        # (True, a format character) or (False, the text between them, its escapes removed),
        # as ``DateFormat.format`` reads the format.
        self._pieces = [
            (True, piece) if index % 2 else (False, re_escaped.sub(r"\1", piece))
            for index, piece in enumerate(re_formatchars.split(str(self.shown)))
            if piece
        ]

    def local(self, value: datetime) -> datetime:
        return localtime(value, self.zone)

    def text(self, value: datetime) -> str:
        """The date and time as the language writes them (``date_format``'s words)."""
        return self._written(self.local(value))

    def html(self, value: datetime) -> SafeString:
        """``<time datetime="…">`` around ``text``."""
        local = self.local(value)
        return SafeString(
            f'<time datetime="{html.escape(local.isoformat())}">'
            f"{html.escape(self._written(local))}</time>"
        )

    def _written(self, local: datetime) -> str:
        formatter = DateFormat(local)
        return "".join(
            str(getattr(formatter, piece)()) if character else piece
            for character, piece in self._pieces
        )


class Labels:
    """A code's label (of ``labels``, a code → lazy label mapping made once) in the active
    language, each translated the first time a page asks for it: a row's status, urgency…
    (the model's ``status_label`` and the like) without a translation lookup a row."""

    def __init__(self, labels: Mapping[str, Any]) -> None:
        self._labels = labels
        self._written: dict[str, str] = {}

    def __call__(self, code: str) -> str:
        written = self._written.get(code)
        if written is None:
            written = self._written[code] = str(self._labels.get(code, code))
        return written


class Ages:
    """How long ago, as Django's ``timesince`` writes it ("3 days, 4 hours ago"), in the active
    language, each unit's words for a count translated once a page rather than once a row."""

    def __init__(self) -> None:
        self._units = {name: _Counted(words) for name, words in TIME_STRINGS.items()}
        self._ago = gettext("%(age)s ago")

    def ago(self, value: datetime, now: datetime | None = None, depth: int = 2) -> str:
        """``timesince(value, now, depth=depth)`` and "ago"."""
        since = timesince(value, now, time_strings=self._units, depth=depth)  # type: ignore[arg-type]
        return self._ago % {"age": since}


class _Counted:
    """A unit's words (``ngettext_lazy``) for each count, translated the first time asked."""

    def __init__(self, words: Any) -> None:
        self._words = words
        self._written: dict[int, str] = {}

    def __mod__(self, values: dict[str, int]) -> str:
        count = values["num"]
        written = self._written.get(count)
        if written is None:
            written = self._written[count] = str(self._words % values)
        return written


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
    return template.format_map({name: _escaped(value) for name, value in fields.items()})


def _escaped(value: str | int | SafeString) -> str:
    """What ``conditional_escape`` writes of a row's field (HTML kept, text escaped, a number
    written out), without its checks for lazy text that a row's fields never are: the rows'
    hottest call."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(value if isinstance(value, str) else str(value))


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
