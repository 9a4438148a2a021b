from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cms.categories import SDOH_CATEGORIES, SENSITIVE_CATEGORY_CODES
from referrals.screening import (
    QUESTIONS,
    Domain,
    InvalidScreening,
    ScreeningResult,
    score_ahc_hrsn,
)
from tests.referrals.factories import (
    DONT_KNOW,
    FOOD_RAN_OUT,
    FOOD_WORRIED,
    HOUSING,
    HOUSING_PROBLEMS,
    HOW_OFTEN,
    LIVING,
    NEVER_TRUE,
    NO,
    NO_STEADY_PLACE,
    NONE_OF_THESE,
    OFTEN,
    SAFETY_ITEMS,
    SHUT_OFF,
    SOMETIMES,
    STEADY,
    TRANSPORT,
    UTILITIES,
    WORRIED,
    YES,
    Answers,
    all_negative,
    safety_answers,
)

# The seven categories the screener can suggest, by the domain that suggests them.
CATEGORIES_BY_DOMAIN: Mapping[Domain, frozenset[str]] = {
    Domain.LIVING_SITUATION: frozenset({"housing-instability", "homelessness"}),
    Domain.HOUSING_QUALITY: frozenset({"inadequate-housing"}),
    Domain.FOOD: frozenset({"food-insecurity"}),
    Domain.TRANSPORTATION: frozenset({"transportation-insecurity"}),
    Domain.UTILITIES: frozenset({"utility-insecurity"}),
    Domain.SAFETY: frozenset({"intimate-partner-violence"}),
}
SCREENER_CATEGORIES = frozenset().union(*CATEGORIES_BY_DOMAIN.values())


def score_with(changes: Answers, *, without: Sequence[str] = ()) -> ScreeningResult:
    """Score an all-negative screening with some answers changed and some left out."""
    answers = {**all_negative(), **changes}
    for question in without:
        del answers[question]
    return score_ahc_hrsn(answers)


def problems_for(answers: Mapping[str, str | Sequence[str]]) -> list[str]:
    with pytest.raises(InvalidScreening) as caught:
        score_ahc_hrsn(answers)
    return caught.value.problems


# --- whole screenings ---------------------------------------------------------------------------


def test_all_negative_answers_screen_negative_and_complete():
    result = score_ahc_hrsn(all_negative())

    assert result.positive_domains == frozenset()
    assert result.positive_categories == frozenset()
    assert result.incomplete == frozenset()
    assert result.safety_score == 4
    assert result.sensitive is False


def test_no_answers_leaves_every_domain_incomplete():
    result = score_ahc_hrsn({})

    assert result.incomplete == frozenset(Domain)
    assert result.positive_domains == frozenset()
    assert result.positive_categories == frozenset()
    assert result.safety_score is None


def test_all_positive_answers_suggest_the_seven_categories():
    result = score_ahc_hrsn(
        {
            LIVING: NO_STEADY_PLACE,
            HOUSING: list(HOUSING_PROBLEMS),
            FOOD_WORRIED: OFTEN,
            FOOD_RAN_OUT: SOMETIMES,
            TRANSPORT: YES,
            UTILITIES: SHUT_OFF,
            **safety_answers(5, 5, 5, 5),
        }
    )

    assert result.positive_domains == frozenset(Domain)
    assert result.positive_categories == SCREENER_CATEGORIES
    assert result.incomplete == frozenset()
    assert result.safety_score == 20
    assert result.sensitive is True


def test_domains_are_plain_strings():
    assert {domain.value for domain in Domain} == {
        "living_situation",
        "housing_quality",
        "food",
        "transportation",
        "utilities",
        "safety",
    }
    assert Domain.FOOD == "food"
    assert "food" in score_with({FOOD_WORRIED: OFTEN}).positive_domains


# --- living situation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "categories"),
    [
        (STEADY, frozenset()),
        (WORRIED, frozenset({"housing-instability"})),
        (NO_STEADY_PLACE, frozenset({"homelessness", "housing-instability"})),
    ],
)
def test_living_situation(answer, categories):
    result = score_with({LIVING: answer})

    assert result.positive_categories == categories
    assert (Domain.LIVING_SITUATION in result.positive_domains) == bool(categories)
    assert result.incomplete == frozenset()


# --- housing quality ----------------------------------------------------------------------------


@pytest.mark.parametrize("problem", HOUSING_PROBLEMS)
def test_any_housing_problem_is_inadequate_housing(problem):
    result = score_with({HOUSING: [problem]})

    assert result.positive_domains == {Domain.HOUSING_QUALITY}
    assert result.positive_categories == {"inadequate-housing"}


@pytest.mark.parametrize(
    "answer",
    [
        ["LA31996-4", "LA28580-1", "LA32001-2"],
        ("LA31998-0", "LA31999-8"),
        "LA28580-1",
    ],
    ids=["list", "tuple", "single-string"],
)
def test_housing_quality_accepts_list_tuple_or_single_code(answer):
    assert score_with({HOUSING: answer}).positive_categories == {"inadequate-housing"}


@pytest.mark.parametrize("answer", [[NONE_OF_THESE], (NONE_OF_THESE,), NONE_OF_THESE])
def test_none_of_these_is_negative(answer):
    result = score_with({HOUSING: answer})

    assert result.positive_domains == frozenset()
    assert result.incomplete == frozenset()


# --- food ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("worried", "ran_out", "outcome"),
    [
        (OFTEN, NEVER_TRUE, "positive"),
        (SOMETIMES, NEVER_TRUE, "positive"),
        (NEVER_TRUE, OFTEN, "positive"),
        (NEVER_TRUE, SOMETIMES, "positive"),
        (OFTEN, SOMETIMES, "positive"),
        (NEVER_TRUE, NEVER_TRUE, "negative"),
        # One positive answer is enough even with the other missing.
        (OFTEN, None, "positive"),
        (None, SOMETIMES, "positive"),
        # A negative answer cannot rule food insecurity out while the other is missing.
        (NEVER_TRUE, None, "incomplete"),
        (None, NEVER_TRUE, "incomplete"),
        (None, None, "incomplete"),
        # "Don't know/refused" is an answer, and not a positive one (Hunger Vital Sign).
        (DONT_KNOW, NEVER_TRUE, "negative"),
        (NEVER_TRUE, DONT_KNOW, "negative"),
        (DONT_KNOW, DONT_KNOW, "negative"),
        (DONT_KNOW, OFTEN, "positive"),
        (SOMETIMES, DONT_KNOW, "positive"),
        (DONT_KNOW, None, "incomplete"),
    ],
)
def test_food(worried, ran_out, outcome):
    changes: Answers = {}
    missing = []
    for question, answer in ((FOOD_WORRIED, worried), (FOOD_RAN_OUT, ran_out)):
        if answer is None:
            missing.append(question)
        else:
            changes[question] = answer

    result = score_with(changes, without=missing)

    assert (Domain.FOOD in result.positive_domains) == (outcome == "positive")
    assert (Domain.FOOD in result.incomplete) == (outcome == "incomplete")
    assert ("food-insecurity" in result.positive_categories) == (outcome == "positive")
    assert result.incomplete <= {Domain.FOOD}


# --- transportation and utilities ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "answer", "domain", "category"),
    [
        (TRANSPORT, YES, Domain.TRANSPORTATION, "transportation-insecurity"),
        (UTILITIES, YES, Domain.UTILITIES, "utility-insecurity"),
        (UTILITIES, SHUT_OFF, Domain.UTILITIES, "utility-insecurity"),
    ],
)
def test_yes_answers_are_positive(question, answer, domain, category):
    result = score_with({question: answer})

    assert result.positive_domains == {domain}
    assert result.positive_categories == {category}


@pytest.mark.parametrize("question", [TRANSPORT, UTILITIES])
def test_no_is_negative(question):
    result = score_with({question: NO})

    assert result.positive_domains == frozenset()
    assert result.incomplete == frozenset()


# --- a missing single question ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "domain"),
    [
        (LIVING, Domain.LIVING_SITUATION),
        (HOUSING, Domain.HOUSING_QUALITY),
        (TRANSPORT, Domain.TRANSPORTATION),
        (UTILITIES, Domain.UTILITIES),
    ],
)
def test_missing_question_leaves_only_its_domain_incomplete(question, domain):
    result = score_with({}, without=[question])

    assert result.incomplete == {domain}
    assert result.positive_domains == frozenset()
    assert result.safety_score == 4


# --- safety -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "total", "positive"),
    [
        ((1, 1, 1, 1), 4, False),
        ((1, 2, 3, 4), 10, False),
        ((4, 3, 2, 1), 10, False),
        ((2, 2, 3, 4), 11, True),
        ((5, 4, 1, 1), 11, True),
        ((5, 5, 5, 5), 20, True),
    ],
)
def test_safety_score_and_threshold(points, total, positive):
    result = score_with(safety_answers(*points))

    assert result.safety_score == total
    assert (Domain.SAFETY in result.positive_domains) == positive
    assert ("intimate-partner-violence" in result.positive_categories) == positive
    assert result.sensitive is positive
    assert result.incomplete == frozenset()


@pytest.mark.parametrize("missing", SAFETY_ITEMS)
@pytest.mark.parametrize("others", [1, 5], ids=["others-never", "others-frequently"])
def test_any_missing_safety_item_leaves_safety_unscored(missing, others):
    result = score_with(safety_answers(others, others, others, others), without=[missing])

    assert result.safety_score is None
    assert result.incomplete == {Domain.SAFETY}
    assert Domain.SAFETY not in result.positive_domains
    assert "intimate-partner-violence" not in result.positive_categories
    assert result.sensitive is False


def test_only_safety_is_sensitive():
    result = score_with(
        {LIVING: NO_STEADY_PLACE, HOUSING: ["LA28580-1"], FOOD_WORRIED: OFTEN, UTILITIES: YES}
    )

    assert len(result.positive_categories) == 5
    assert result.sensitive is False


# --- invalid input ------------------------------------------------------------------------------


def test_invalid_screening_is_a_value_error():
    with pytest.raises(ValueError, match="12345-6"):
        score_ahc_hrsn({"12345-6": YES})


@pytest.mark.parametrize(
    "question",
    ["12345-6", "95614-4", "96777-8", ""],
    ids=["made-up", "safety-total", "panel", "empty"],
)
def test_unknown_question_code_is_an_error(question):
    problems = problems_for({**all_negative(), question: YES})

    assert len(problems) == 1
    assert repr(question) in problems[0]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (FOOD_WORRIED, YES),
        (TRANSPORT, SHUT_OFF),  # valid for utilities, not for transportation
        (LIVING, NONE_OF_THESE),
        (SAFETY_ITEMS[0], SOMETIMES),  # the food "Sometimes true", not the safety "Sometimes"
        (UTILITIES, ""),
        (HOUSING, "LA99999-9"),
        (HOUSING, ["LA28580-1", "LA99999-9"]),
    ],
)
def test_answer_not_allowed_for_the_question_is_an_error(question, answer):
    problems = problems_for({**all_negative(), question: answer})

    assert len(problems) == 1
    assert question in problems[0]
    assert "not one of its answers" in problems[0]


@pytest.mark.parametrize("answer", [[YES], (NO,), [YES, NO]])
def test_list_for_a_single_answer_question_is_an_error(answer):
    problems = problems_for({**all_negative(), TRANSPORT: answer})

    assert len(problems) == 1
    assert TRANSPORT in problems[0]
    assert "one answer" in problems[0]


@pytest.mark.parametrize(
    "answer",
    [
        [NONE_OF_THESE, "LA28580-1"],
        ("LA31996-4", NONE_OF_THESE),
        [NONE_OF_THESE, *HOUSING_PROBLEMS],
    ],
)
def test_none_of_these_with_other_housing_answers_is_an_error(answer):
    problems = problems_for({**all_negative(), HOUSING: answer})

    assert len(problems) == 1
    assert HOUSING in problems[0]
    assert NONE_OF_THESE in problems[0]


@pytest.mark.parametrize("answer", [[], ()])
def test_empty_housing_list_is_an_error(answer):
    problems = problems_for({**all_negative(), HOUSING: answer})

    assert len(problems) == 1
    assert HOUSING in problems[0]
    assert "empty" in problems[0]


@pytest.mark.parametrize("answer", [None, 3, {YES}])
def test_answer_of_the_wrong_type_is_an_error(answer):
    problems = problems_for({**all_negative(), UTILITIES: answer})

    assert len(problems) == 1
    assert UTILITIES in problems[0]


def test_every_problem_is_reported_together():
    answers: Answers = {
        **all_negative(),
        "00000-0": YES,
        FOOD_WORRIED: YES,
        TRANSPORT: [YES],
        HOUSING: [NONE_OF_THESE, "LA28580-1"],
    }

    with pytest.raises(InvalidScreening) as caught:
        score_ahc_hrsn(answers)

    problems = caught.value.problems
    assert len(problems) == 4
    for named in ("'00000-0'", FOOD_WORRIED, TRANSPORT, HOUSING):
        assert sum(named in problem for problem in problems) == 1
        assert named in str(caught.value)


def test_problem_names_the_question_by_its_text():
    (problem,) = problems_for({FOOD_RAN_OUT: YES})

    assert str(QUESTIONS[FOOD_RAN_OUT].text) in problem


# --- the question list --------------------------------------------------------------------------


def test_questions_cover_the_screener_in_order():
    assert list(QUESTIONS) == [
        LIVING,
        HOUSING,
        FOOD_WORRIED,
        FOOD_RAN_OUT,
        TRANSPORT,
        UTILITIES,
        *SAFETY_ITEMS,
    ]
    assert {code for code, question in QUESTIONS.items() if question.multiple} == {HOUSING}
    assert {question.domain for question in QUESTIONS.values()} == set(Domain)


@pytest.mark.parametrize(
    ("question", "answer_codes"),
    [
        (LIVING, (STEADY, WORRIED, NO_STEADY_PLACE)),
        (HOUSING, (*HOUSING_PROBLEMS, NONE_OF_THESE)),
        # LOINC's answer list for both food items ends with "Don't know/refused".
        (FOOD_WORRIED, (OFTEN, SOMETIMES, NEVER_TRUE, DONT_KNOW)),
        (FOOD_RAN_OUT, (OFTEN, SOMETIMES, NEVER_TRUE, DONT_KNOW)),
        (TRANSPORT, (YES, NO)),
        (UTILITIES, (YES, NO, SHUT_OFF)),
        *((item, HOW_OFTEN) for item in SAFETY_ITEMS),
    ],
)
def test_question_answers_are_ordered_code_label_pairs(question, answer_codes):
    spec = QUESTIONS[question]

    assert spec.code == question
    assert tuple(code for code, _label in spec.answers) == answer_codes
    assert all(str(label).strip() for _code, label in spec.answers)
    assert str(spec.text).strip()


def test_every_answer_suggests_only_known_categories():
    known = {code for code, _display in SDOH_CATEGORIES}
    seen: set[str] = set()
    for question in QUESTIONS.values():
        for code, _label in question.answers:
            answer = [code] if question.multiple else code
            seen |= score_with({question.code: answer}).positive_categories

    assert known.issuperset(SCREENER_CATEGORIES)
    assert seen == SCREENER_CATEGORIES - {"intimate-partner-violence"}
    sensitive = SCREENER_CATEGORIES & SENSITIVE_CATEGORY_CODES
    assert sensitive == {"intimate-partner-violence"}


def test_questions_cannot_be_changed():
    with pytest.raises(TypeError):
        QUESTIONS["00000-0"] = QUESTIONS[LIVING]  # type: ignore[index]


# --- properties ---------------------------------------------------------------------------------


def answer_for(question: str) -> st.SearchStrategy[str | Sequence[str]]:
    if question == HOUSING:
        return st.one_of(
            st.just([NONE_OF_THESE]),
            st.just(NONE_OF_THESE),
            st.lists(st.sampled_from(HOUSING_PROBLEMS), min_size=1, unique=True),
            st.sampled_from(HOUSING_PROBLEMS),
        )
    return st.sampled_from([code for code, _label in QUESTIONS[question].answers])


complete_answers = st.fixed_dictionaries({question: answer_for(question) for question in QUESTIONS})


@given(complete_answers)
def test_complete_answers_are_always_fully_scored(answers):
    result = score_ahc_hrsn(answers)

    assert result.incomplete == frozenset()
    assert result.safety_score is not None
    assert 4 <= result.safety_score <= 20
    assert (Domain.SAFETY in result.positive_domains) == (result.safety_score >= 11)


@given(complete_answers, st.data())
def test_categories_follow_positive_domains(answers, data):
    leave_out = data.draw(st.sets(st.sampled_from(list(QUESTIONS))))
    result = score_ahc_hrsn({q: a for q, a in answers.items() if q not in leave_out})

    assert result.positive_categories <= SCREENER_CATEGORIES
    for domain, categories in CATEGORIES_BY_DOMAIN.items():
        assert (domain in result.positive_domains) == bool(result.positive_categories & categories)
    assert result.positive_domains.isdisjoint(result.incomplete)
    assert (result.safety_score is None) == (Domain.SAFETY in result.incomplete)
    assert result.sensitive == (Domain.SAFETY in result.positive_domains)
    # "homelessness" always comes with "housing-instability".
    assert "homelessness" not in result.positive_categories or (
        "housing-instability" in result.positive_categories
    )


@given(complete_answers, st.data())
def test_leaving_answers_out_never_adds_a_positive(answers, data):
    full = score_ahc_hrsn(answers)
    leave_out = data.draw(st.sets(st.sampled_from(list(QUESTIONS)), min_size=1))
    partial = score_ahc_hrsn({q: a for q, a in answers.items() if q not in leave_out})

    assert partial.positive_domains <= full.positive_domains
    assert partial.positive_categories <= full.positive_categories
    # A domain that lost an answer is either still positive or incomplete, never negative.
    touched = {QUESTIONS[q].domain for q in leave_out}
    for domain in touched:
        assert domain in partial.positive_domains or domain in partial.incomplete


@given(
    complete_answers,
    st.lists(
        st.text(max_size=12).filter(lambda code: code not in QUESTIONS),
        min_size=1,
        max_size=5,
        unique=True,
    ),
)
def test_every_unknown_question_is_reported(answers, unknown):
    with pytest.raises(InvalidScreening) as caught:
        score_ahc_hrsn({**answers, **dict.fromkeys(unknown, YES)})

    assert len(caught.value.problems) == len(unknown)
    for code in unknown:
        assert any(repr(code) in problem for problem in caught.value.problems)
