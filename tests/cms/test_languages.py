"""Language names come from CLDR (langcodes), in the interface's language, for ISO 639-1 and
639-3 codes alike; a typed name finds its code."""

import pytest
from django.utils import translation

from cms.languages import language_code, language_name


@pytest.mark.parametrize(
    ("code", "english", "spanish"),
    [
        ("es", "Spanish", "Español"),
        ("hmn", "Hmong", "Hmong"),
        ("zh", "Chinese", "Chino"),
        ("so", "Somali", "Somalí"),
        ("ase", "American Sign Language", "American Sign Language"),
    ],
)
def test_a_code_is_named_in_the_interface_language(code: str, english: str, spanish: str) -> None:
    with translation.override("en"):
        assert language_name(code) == english
    with translation.override("es"):
        assert language_name(code) == spanish
    assert language_name(code.upper(), "en") == english


@pytest.mark.parametrize("text", ["", "  ", "not a language tag at all", "q-"])
def test_what_is_not_a_language_stays_as_written(text: str) -> None:
    assert language_name(text, "en") == text.strip()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("es", "es"),
        ("Spanish", "es"),
        ("español", "es"),
        ("ESPAÑOL ", "es"),
        ("hmong", "hmn"),
        ("hmn", "hmn"),
        ("chino", "zh"),
        ("Vietnamese", "vi"),
        ("inglés", "en"),
    ],
)
def test_a_name_or_code_finds_the_code(text: str, code: str) -> None:
    assert language_code(text) == code


@pytest.mark.parametrize("text", ["", "x", "no such language anywhere", "a" * 200])
def test_a_name_of_no_language_finds_nothing(text: str) -> None:
    assert language_code(text) is None
