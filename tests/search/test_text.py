"""Words of a search: synonyms, stop words, stems and highlighting."""

from __future__ import annotations

import pytest

from cms.categories import SDOH_CATEGORIES
from search.synonyms import NEEDS
from search.text import (
    SYNONYMS,
    corrected_text,
    fold,
    highlight,
    needles_for,
    stem,
    synonym_key,
    synonym_rules,
    terms,
    words,
)


def test_a_known_phrase_becomes_one_term_with_its_synonyms():
    (term,) = terms("Food Bank")
    assert ("food", "pantry") in term.alternatives
    assert term.typed == ("food", "bank")


def test_stop_words_are_dropped_and_other_words_stay_separate_terms():
    found = terms("a pantry near me for seniors")
    assert [t.label for t in found] == ["pantry", "seniors"]


def test_corrections_apply_before_phrases_are_found():
    (term,) = terms("rnet help", corrections={"rnet": "rent"})
    assert ("rental", "assistance") in term.alternatives


def test_words_fold_accents_and_apostrophes():
    assert words("Café Women\u2019s CLINIC") == ["cafe", "womens", "clinic"]


def test_stem():
    assert [stem(w) for w in ["pantries", "meals", "housing", "bus", "sy"]] == [
        "pantr",
        "meal",
        "hous",
        "bus",
        "sy",
    ]


def test_highlight_escapes_and_marks_word_starts():
    html = highlight("Free <script>x</script> meals & pantries daily", ["pantr", "meal"])
    assert html == (
        "Free &lt;script&gt;x&lt;/script&gt; <mark>meals</mark> &amp; <mark>pantries</mark> daily"
    )


def test_highlight_cuts_long_text_around_the_first_match():
    text = "word " * 100 + "shelter beds tonight " + "more " * 100
    html = highlight(text, ["shelter"], width=80)
    assert html.startswith("…")
    assert html.endswith("…")
    assert "<mark>shelter</mark>" in html
    assert len(html) < 140


def test_highlight_needles_leave_out_stop_words():
    assert "with" not in needles_for(terms("help with rent"))


def test_elasticsearch_gets_the_same_synonyms():
    assert synonym_rules() == [", ".join(fold(p) for p in group) for group in SYNONYMS]
    assert synonym_rules()[0].startswith("food bank, food pantry, food shelf, food closet")


def test_a_phrase_belongs_to_one_line_and_needs_are_real_codes():
    keys = [synonym_key(phrase) for group in SYNONYMS for phrase in group]
    assert len(keys) == len(set(keys))
    firsts = {group[0] for group in SYNONYMS}
    codes = {code for code, _name in SDOH_CATEGORIES}
    for first, needs in NEEDS.items():
        assert first in firsts, first
        assert set(needs) <= codes, needs


@pytest.mark.parametrize(
    ("typed", "alternative", "needs"),
    [
        ("comida", ("food",), ("food-insecurity",)),
        ("Food stamps", ("calfresh",), ("food-insecurity",)),
        ("estampillas de comida", ("snap",), ("food-insecurity",)),
        ("vivienda", ("housing",), ("housing-instability", "inadequate-housing")),
        ("ride to doctor", ("transportation",), ("transportation-insecurity",)),
        ("Ride to the doctor", ("medical", "transportation"), ("transportation-insecurity",)),
        ("transporte al médico", ("ride",), ("transportation-insecurity",)),
        ("rent help", ("rental", "assistance"), ("housing-instability",)),
        ("ayuda con la renta", ("rent", "help"), ("housing-instability",)),
        ("albergue", ("shelter",), ("homelessness",)),
        ("abogado", ("legal", "aid"), ()),
    ],
)
def test_spanish_and_plain_phrases_become_one_term_with_the_needs_they_name(
    typed, alternative, needs
):
    (term,) = terms(typed)
    assert alternative in term.alternatives
    assert term.categories == needs


def test_a_listing_phrase_with_stop_words_stays_whole_for_matching():
    (term,) = terms("help with rent")
    assert ("help", "with", "rent") in term.alternatives  # what listings say
    assert term.typed == ("help", "rent")


def test_corrected_text_keeps_what_was_typed_around_the_corrections():
    assert corrected_text("Fod pantry", {"fod": "food"}) == "food pantry"
    assert corrected_text("rnet help!", {"rnet": "rent"}) == "rent help!"
