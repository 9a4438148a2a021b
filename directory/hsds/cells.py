"""Typed access to the cells of one HSDS row, each bad cell reported as a Problem."""

from __future__ import annotations

import functools
import re
import uuid
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from .reading import Problem

TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:Z|[+-]\d{2}:?\d{2})?$")


@functools.lru_cache(maxsize=65_536)
def _parse_uuid(value: str) -> uuid.UUID:
    """Ids repeat across tables (every foreign key names one); parse each once."""
    return uuid.UUID(value)


_email = EmailValidator()
_url = URLValidator(schemes=["http", "https"])


class Row:
    """Typed access to one row's cells; each bad cell adds a Problem and yields None."""

    def __init__(self, row: dict[str, Any], problems: list[Problem]) -> None:
        self.row = row
        self.problems = problems
        self.where = (row["_source"], row["_row"])
        self.path: str = row.get("_path", "")
        self._said: set[tuple[str, str]] | None = None

    def problem(self, column: str, message: str) -> None:
        """Report a problem once, however often the cell is read (an id is read as the row's key
        and again as the record's)."""
        said = self._said if self._said is not None else set()
        self._said = said
        if (column, message) in said:
            return
        said.add((column, message))
        self.problems.append(Problem(self.where[0], self.where[1], column, message, self.path))

    def raw(self, column: str) -> str:
        value = self.row.get(column)
        return "" if value is None else str(value).strip()

    def text(self, column: str, *, required: bool = False, max_length: int = 0) -> str:
        value = self.raw(column)
        if required and not value:
            self.problem(column, "is required")
        if max_length and len(value) > max_length:
            self.problem(column, f"is {len(value)} characters long; at most {max_length}")
            return value[:max_length]
        return value

    def uuid(self, column: str, *, required: bool = False) -> uuid.UUID | None:
        value = self.raw(column)
        if not value:
            if required:
                self.problem(column, "is required")
            return None
        try:
            return _parse_uuid(value)
        except ValueError:
            self.problem(column, f"{value!r} is not a UUID")
            return None

    def integer(self, column: str, *, low: int, high: int) -> int | None:
        value = self.raw(column)
        if not value:
            return None
        try:
            number = int(float(value)) if re.fullmatch(r"-?\d+(\.0+)?", value) else int(value)
        except ValueError:
            self.problem(column, f"{value!r} is not a whole number")
            return None
        if not low <= number <= high:
            self.problem(column, f"{number} is outside {low} to {high}")
            return None
        return number

    def decimal(self, column: str, *, low: float, high: float) -> Decimal | None:
        value = self.raw(column)
        if not value:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            self.problem(column, f"{value!r} is not a number")
            return None
        if not number.is_finite() or not low <= number <= high:
            self.problem(column, f"{value} is outside {low} to {high}")
            return None
        return number

    def boolean(self, column: str) -> bool | None:
        """A yes/no cell (true/false, yes/no, 1/0); None when empty."""
        value = self.raw(column).lower()
        if not value:
            return None
        if value in ("true", "yes", "1"):
            return True
        if value in ("false", "no", "0"):
            return False
        self.problem(column, f"{value!r} is not true or false")
        return None

    def choice(
        self, column: str, choices: tuple[str, ...], *, default: str = "", required: bool = False
    ) -> str:
        value = self.raw(column)
        if not value:
            if required:
                self.problem(column, "is required")
            return default
        lowered = value.lower()
        if lowered not in choices:
            self.problem(column, f"{value!r} is not one of: {', '.join(choices)}")
            return default
        return lowered

    def email(self, column: str) -> str:
        value = self.raw(column)
        if value:
            try:
                _email(value)
            except ValidationError:
                self.problem(column, f"{value!r} is not an email address")
                return ""
        return value

    def url(self, column: str) -> str:
        value = self.raw(column)
        if value:
            try:
                _url(value)
            except ValidationError:
                self.problem(column, f"{value!r} is not a web address (http or https)")
                return ""
        return value

    def clock(self, column: str) -> time | None:
        value = self.raw(column)
        match = TIME.match(value)
        if not value:
            self.problem(column, "is required")
            return None
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            self.problem(column, f"{value!r} is not a time of day (HH:MM)")
            return None
        return time(int(match[1]), int(match[2]), int(match[3] or 0))
