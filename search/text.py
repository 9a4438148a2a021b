"""Words of a search: splitting, synonyms, a light stemmer and highlighting, for every backend.

The synonym table (``search.synonyms``) is the one source for query expansion in the database
backend and for the synonym filter of the Elasticsearch analyzer, so both backends agree on what
"food bank" (or "comida", or "ride to doctor") finds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .synonyms import NEEDS, SYNONYMS

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "near",
        "need",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "with",
        "y",
        "de",
        "la",
        "el",
        "los",
        "las",
        "en",
        "para",
        "con",
    ]
)
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?", re.UNICODE)
MAX_TERMS = 8


def fold(text: str) -> str:
    """Lower case without accents ("Café" → "cafe"), for matching and the vocabulary."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of a text, apostrophes dropped ("women's" → "womens")."""
    return [w.replace("'", "").replace("\u2019", "") for w in _WORD.findall(fold(text))]


def stem(word: str) -> str:
    """A light English stem for substring matching ("pantries" → "pantr", "meals" → "meal")."""
    for suffix, keep in (("ies", 1), ("ing", 4), ("es", 4), ("ed", 4), ("s", 3), ("y", 3)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Term:
    """One need in a query: its alternatives, each a phrase (a tuple of words).

    A phrase of several words matches only with its words in order ("emergency housing" is not
    "Emergency rent help" in the housing category); ``typed``, the words as the person typed
    them, also match anywhere in a listing.
    """

    alternatives: tuple[tuple[str, ...], ...]
    typed: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # SDOH needs whose services also match (search.synonyms)

    @property
    def label(self) -> str:
        return " ".join(self.alternatives[0])


def synonym_key(phrase: str) -> tuple[str, ...]:
    """How a phrase is looked up: its words without stop words ("ride to the doctor" and
    "ride doctor" are the same need), as ``terms`` reads a query."""
    return tuple(w for w in words(phrase) if w not in STOPWORDS)


def _synonym_index() -> dict[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Each phrase's key → its line's phrases, whole (listings say "help with rent")."""
    index: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for group in SYNONYMS:
        phrases = tuple(tuple(words(p)) for p in group)
        for phrase in group:
            index[synonym_key(phrase)] = phrases
    return index


def _need_index() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each phrase's key → the needs its line means."""
    return {
        synonym_key(phrase): NEEDS[group[0]]
        for group in SYNONYMS
        if group[0] in NEEDS
        for phrase in group
    }


_SYNONYM_INDEX = _synonym_index()
_NEED_INDEX = _need_index()
_LONGEST = max(len(p) for p in _SYNONYM_INDEX)


def terms(text: str, *, corrections: dict[str, str] | None = None) -> list[Term]:
    """The needs of a query: stop words dropped, known phrases expanded to their synonyms.

    Every term must match (AND); any alternative of a term may (OR). ``corrections`` replaces
    misspelt words before phrases are looked up ("rnet help" → "rent help").
    """
    found = [w for w in words(text) if w not in STOPWORDS]
    if corrections:
        found = [corrections.get(w, w) for w in found]
    result: list[Term] = []
    i = 0
    while i < len(found) and len(result) < MAX_TERMS:
        for size in range(min(_LONGEST, len(found) - i), 0, -1):
            phrase = tuple(found[i : i + size])
            if phrase in _SYNONYM_INDEX:
                result.append(
                    Term(
                        _SYNONYM_INDEX[phrase],
                        typed=phrase if size > 1 else (),
                        categories=_NEED_INDEX.get(phrase, ()),
                    )
                )
                i += size
                break
        else:
            result.append(Term(((found[i],),)))
            i += 1
    return result


def corrected_text(text: str, corrections: dict[str, str]) -> str:
    """``text`` with its misspelt words (folded, as ``words`` gives them) replaced: the search
    a "Did you mean" offers ("Fod pantry" → "food pantry")."""

    def replace(match: re.Match[str]) -> str:
        folded = match.group(0).replace("'", "").replace("\u2019", "")
        return corrections.get(fold(folded), match.group(0))

    return _WORD.sub(replace, text)


def query_words(text: str) -> list[str]:
    """The words of a query that the vocabulary is asked about (no stop words)."""
    return [w for w in words(text) if w not in STOPWORDS][: MAX_TERMS * 2]


def synonym_rules() -> list[str]:
    """The synonym table as Solr-format rules for Elasticsearch's synonym_graph filter (folded,
    as the analyzer's lowercase and asciifolding filters read them)."""
    return [", ".join(fold(phrase) for phrase in group) for group in SYNONYMS]


def highlight(text: str, needles: Iterable[str], *, width: int = 220) -> SafeString:
    """An escaped excerpt of ``text`` around the first match, every match in ``<mark>``.

    ``needles`` are word stems; a match is a word starting with one of them.
    """
    stems = sorted({n for n in needles if len(n) >= 2}, key=len, reverse=True)
    if not text:
        return mark_safe("")
    pattern = (
        re.compile(r"\b(" + "|".join(re.escape(s) for s in stems) + r")\w*", re.IGNORECASE)
        if stems
        else None
    )
    folded = _fold_same_length(text)
    first = pattern.search(folded) if pattern else None
    start = 0
    if first is not None and first.start() > width // 3:
        start = text.rfind(" ", 0, first.start() - width // 3) + 1
    end = min(len(text), start + width)
    if end < len(text):
        end = max(text.rfind(" ", start, end), start + width // 2)
    parts: list[str] = ["…" if start else ""]
    cursor = start
    if pattern is not None:
        for match in pattern.finditer(folded, start, end):
            parts.append(escape(text[cursor : match.start()]))
            parts.append(f"<mark>{escape(text[match.start() : match.end()])}</mark>")
            cursor = match.end()
    parts.append(escape(text[cursor:end]))
    if end < len(text):
        parts.append("…")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text above is escaped


def _fold_same_length(text: str) -> str:
    """Accents removed character by character, so match offsets stay valid in ``text``."""
    if text.isascii():  # nearly every listing: nothing to fold but case
        return text.lower()
    return "".join((fold(ch) or ch)[0] for ch in text)


def needles_for(query_terms: Sequence[Term]) -> list[str]:
    """The stems to highlight for a query's terms (every word of every alternative)."""
    return [
        stem(w) for t in query_terms for alt in t.alternatives for w in alt if w not in STOPWORDS
    ]
