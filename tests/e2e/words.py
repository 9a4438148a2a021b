"""The interface's words in the language a browser test runs in, from the project's own
catalogue: a locator names a button by ``t("Accept")`` and finds "Aceptar" in Spanish, or the
English words where the catalogue has no translation yet (the page shows those too)."""

from __future__ import annotations

from collections.abc import Callable

from django.utils import translation

Words = Callable[..., str]


def words(language: str) -> Words:
    """``t(msgid, **values)`` or ``t((singular, plural), n, **values)`` in ``language``."""

    def t(msgid: str | tuple[str, str], n: int | None = None, /, **values: object) -> str:
        with translation.override(language):
            if isinstance(msgid, tuple):
                assert n is not None
                text = translation.ngettext(msgid[0], msgid[1], n)
            else:
                text = translation.gettext(msgid)
        return text % values if values else text

    return t


def page_words(page) -> Words:  # type: ignore[no-untyped-def]
    """The words of the language the open page is in (its ``<html lang>``)."""
    return words((page.get_attribute("html", "lang") or "en").split("-")[0])
