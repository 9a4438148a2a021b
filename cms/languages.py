"""Languages by name: ISO 639 codes (``es``, ``hmn``, ``ase``) become the names people read, in
the interface's language, and a name someone types (“Spanish”, “español”, “Hmong”) becomes its
code. The names come from CLDR through ``langcodes`` and ``language_data``; there is no table of
our own to fall behind.
"""

from __future__ import annotations

from functools import lru_cache

import langcodes
from django.utils import translation


def _interface_language(locale: str | None) -> str:
    return (locale or translation.get_language() or "en").split("-")[0]


@lru_cache(maxsize=4096)
def _name(code: str, locale: str) -> str:
    tag = langcodes.Language.get(code)
    if not tag.is_valid() or tag.language is None:
        return code
    name = tag.display_name(locale)
    if name.startswith(("Unknown language", "lengua desconocida")) or not name:
        return code
    return name[:1].upper() + name[1:]


def language_name(code: str, locale: str | None = None) -> str:
    """The name of the language ``code`` in ``locale`` (default: the active language); the code
    itself when it is not a language."""
    code = (code or "").strip()
    if not code:
        return ""
    try:
        return _name(code.lower(), _interface_language(locale))
    except (ValueError, LookupError):
        return code


@lru_cache(maxsize=4096)
def _code(text: str) -> str | None:
    try:
        tag = langcodes.Language.get(text)
        if tag.is_valid() and tag.language and text.isascii() and len(text) <= 3:
            return tag.language
    except (ValueError, LookupError):
        pass
    for locale in ("en", "es"):
        try:
            return langcodes.find(text, language=locale).language
        except LookupError:
            continue
    try:
        return langcodes.find(text).language
    except LookupError:
        return None


def language_code(text: str) -> str | None:
    """The ISO 639 code of a code or a language name in English, Spanish or the language itself
    (“es”, “Spanish”, “español”, “hmong”); None when it names no language."""
    text = (text or "").strip().lower()
    if not text or len(text) > 60:
        return None
    return _code(text)
