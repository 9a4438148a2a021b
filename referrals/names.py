"""The phonetic key of a person's name, so that a name typed as it sounds finds the client
("hernandes" finds "Hernandez", "Lopes" finds "López"): each word of the name, without case or
accents, by its Metaphone code (``jellyfish``). Stored on ``Client.name_key`` as
`` CODE CODE `` (space-delimited, so that a containment test matches whole codes) and compared
the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import jellyfish

from search.text import fold

_LETTERS = re.compile(r"[a-z]+")


def word_key(word: str) -> str:
    """The Metaphone code of one word ("" when it has no letters)."""
    letters = "".join(_LETTERS.findall(fold(word)))
    return jellyfish.metaphone(letters) if letters else ""


def name_key(*parts: str) -> str:
    """The stored key of a name: its words' codes, each once, sorted, space-delimited."""
    codes = sorted({word_key(w) for part in parts for w in _LETTERS.findall(fold(part))} - {""})
    return f" {' '.join(codes)} " if codes else ""
