"""Words of a search: synonyms, stop words, stems and highlighting."""

from __future__ import annotations

from search.text import SYNONYMS, highlight, needles_for, stem, synonym_rules, terms, words


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
    assert synonym_rules() == [", ".join(group) for group in SYNONYMS]
    assert "food bank, food pantry, food shelf, food closet" in synonym_rules()
