"""Scoring for the AHC HRSN social-needs screener (LOINC panel 96777-8).

Pure Python: no models, no database. The caller passes the answers as LOINC codes and gets back
the domains that screened positive, the SDOH categories they suggest, and the domains that could
not be scored because an answer is missing. A positive screen only suggests categories; staff and
the patient decide whether anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from cms.categories import SENSITIVE_CATEGORY_CODES

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

__all__ = [
    "NONE_OF_THE_ABOVE",
    "QUESTIONS",
    "SAFETY_POSITIVE_SCORE",
    "Domain",
    "InvalidScreening",
    "Question",
    "ScreeningResult",
    "score_ahc_hrsn",
]


class Domain(StrEnum):
    """The screener's domains; each is scored on its own."""

    LIVING_SITUATION = "living_situation"
    HOUSING_QUALITY = "housing_quality"
    FOOD = "food"
    TRANSPORTATION = "transportation"
    UTILITIES = "utilities"
    SAFETY = "safety"


# The one housing-quality answer that cannot be combined with the others.
NONE_OF_THE_ABOVE = "LA9-3"

# A total safety score (4-20) at or above this is positive.
SAFETY_POSITIVE_SCORE = 11


@dataclass(frozen=True)
class Question:
    """One screener question as a form shows it: answers are (code, label) in display order."""

    code: str
    domain: Domain
    text: _StrOrPromise
    answers: tuple[tuple[str, _StrOrPromise], ...]
    multiple: bool = False

    @property
    def answer_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _label in self.answers)


# LOINC answer list of the Hunger Vital Sign items (88122-7, 88123-5): "Don't know/refused" is a
# possible answer and never a positive one.
DONT_KNOW_REFUSED = "LA15775-2"
_OFTEN_SOMETIMES_NEVER = (
    ("LA28397-0", _("Often true")),
    ("LA6729-3", _("Sometimes true")),
    ("LA28398-8", _("Never true")),
    (DONT_KNOW_REFUSED, _("Don't know or would rather not say")),
)

_HOW_OFTEN = (
    ("LA6270-8", _("Never")),
    ("LA10066-1", _("Rarely")),
    ("LA10082-8", _("Sometimes")),
    ("LA16644-9", _("Fairly often")),
    ("LA6482-9", _("Frequently")),
)

_QUESTION_LIST = (
    Question(
        code="71802-3",
        domain=Domain.LIVING_SITUATION,
        text=_("Living situation today"),
        answers=(
            ("LA31993-1", _("A steady place to live")),
            ("LA31994-9", _("A place to live today, but worried about losing it")),
            ("LA31995-6", _("No steady place to live")),
        ),
    ),
    Question(
        code="96778-6",
        domain=Domain.HOUSING_QUALITY,
        text=_("Problems with the place you live"),
        answers=(
            ("LA31996-4", _("Pests")),
            ("LA28580-1", _("Mold")),
            ("LA31997-2", _("Lead paint or pipes")),
            ("LA31998-0", _("No heat")),
            ("LA31999-8", _("Oven or stove not working")),
            ("LA32000-4", _("Smoke detectors missing or broken")),
            ("LA32001-2", _("Water leaks")),
            (NONE_OF_THE_ABOVE, _("None of these")),
        ),
        multiple=True,
    ),
    Question(
        code="88122-7",
        domain=Domain.FOOD,
        text=_("In the past year, worried food would run out before there was money for more"),
        answers=_OFTEN_SOMETIMES_NEVER,
    ),
    Question(
        code="88123-5",
        domain=Domain.FOOD,
        text=_("In the past year, food ran out and there was no money for more"),
        answers=_OFTEN_SOMETIMES_NEVER,
    ),
    Question(
        code="93030-5",
        domain=Domain.TRANSPORTATION,
        text=_(
            "In the past year, no reliable transport kept you from appointments, work or errands"
        ),
        answers=(("LA33-6", _("Yes")), ("LA32-8", _("No"))),
    ),
    Question(
        code="96779-4",
        domain=Domain.UTILITIES,
        text=_("In the past year, a utility company threatened to shut off service"),
        answers=(
            ("LA33-6", _("Yes")),
            ("LA32-8", _("No")),
            ("LA32002-0", _("Already shut off")),
        ),
    ),
    Question(
        code="95618-5",
        domain=Domain.SAFETY,
        text=_("How often does anyone physically hurt you?"),
        answers=_HOW_OFTEN,
    ),
    Question(
        code="95617-7",
        domain=Domain.SAFETY,
        text=_("How often does anyone insult you or talk down to you?"),
        answers=_HOW_OFTEN,
    ),
    Question(
        code="95616-9",
        domain=Domain.SAFETY,
        text=_("How often does anyone threaten you with harm?"),
        answers=_HOW_OFTEN,
    ),
    Question(
        code="95615-1",
        domain=Domain.SAFETY,
        text=_("How often does anyone scream or curse at you?"),
        answers=_HOW_OFTEN,
    ),
)

# Question code -> Question, in the order the screener asks them.
QUESTIONS: Mapping[str, Question] = MappingProxyType({q.code: q for q in _QUESTION_LIST})

_HOUSING_INSTABILITY = frozenset({"housing-instability"})
_INADEQUATE_HOUSING = frozenset({"inadequate-housing"})
_FOOD_INSECURITY = frozenset({"food-insecurity"})
_TRANSPORTATION_INSECURITY = frozenset({"transportation-insecurity"})
_UTILITY_INSECURITY = frozenset({"utility-insecurity"})
_INTIMATE_PARTNER_VIOLENCE = frozenset({"intimate-partner-violence"})

# Question code -> positive answer code -> the SDOH categories it suggests. Answers not listed
# are negative. Safety is scored on its total instead (see _SAFETY_POINTS).
_POSITIVE_ANSWERS: Mapping[str, Mapping[str, frozenset[str]]] = {
    "71802-3": {
        "LA31994-9": _HOUSING_INSTABILITY,
        # Having no steady place to live is also housing instability.
        "LA31995-6": frozenset({"homelessness", "housing-instability"}),
    },
    "96778-6": {
        code: _INADEQUATE_HOUSING
        for code in QUESTIONS["96778-6"].answer_codes
        if code != NONE_OF_THE_ABOVE
    },
    "88122-7": {"LA28397-0": _FOOD_INSECURITY, "LA6729-3": _FOOD_INSECURITY},
    "88123-5": {"LA28397-0": _FOOD_INSECURITY, "LA6729-3": _FOOD_INSECURITY},
    "93030-5": {"LA33-6": _TRANSPORTATION_INSECURITY},
    "96779-4": {"LA33-6": _UTILITY_INSECURITY, "LA32002-0": _UTILITY_INSECURITY},
}

# Never = 1 ... Frequently = 5, the same scale for all four safety questions.
_SAFETY_POINTS: Mapping[str, int] = {
    code: points for points, (code, _label) in enumerate(_HOW_OFTEN, start=1)
}


class InvalidScreening(ValueError):
    """The answers cannot be scored; problems lists every reason, one message per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class ScreeningResult:
    """What a screening suggests.

    positive_domains: domains that screened positive.
    positive_categories: SDOH category codes those domains suggest.
    incomplete: domains with a missing answer that could change the outcome; neither positive
    nor negative.
    safety_score: the total of the four safety answers (4-20), None unless all four are answered.
    """

    positive_domains: frozenset[Domain]
    positive_categories: frozenset[str]
    incomplete: frozenset[Domain]
    safety_score: int | None

    @property
    def sensitive(self) -> bool:
        """Whether a suggested category may only be shared under consent naming it."""
        return not self.positive_categories.isdisjoint(SENSITIVE_CATEGORY_CODES)


def score_ahc_hrsn(answers: Mapping[str, str | Sequence[str]]) -> ScreeningResult:
    """Score AHC HRSN answers: question LOINC code -> answer LOINC code.

    The housing-quality question (96778-6) takes a list or tuple of answer codes, or a single
    code. Leave a question out when it was not answered. Raises InvalidScreening listing every
    unknown question, invalid answer and malformed multi-select answer together.
    """
    chosen = _validated(answers)
    safety_score = _safety_score(chosen)

    suggested: dict[Domain, frozenset[str] | None] = {
        domain: _domain_categories(domain, chosen) for domain in Domain if domain != Domain.SAFETY
    }
    if safety_score is None:
        suggested[Domain.SAFETY] = None
    elif safety_score >= SAFETY_POSITIVE_SCORE:
        suggested[Domain.SAFETY] = _INTIMATE_PARTNER_VIOLENCE
    else:
        suggested[Domain.SAFETY] = frozenset()

    return ScreeningResult(
        positive_domains=frozenset(domain for domain, found in suggested.items() if found),
        positive_categories=frozenset[str]().union(
            *(found for found in suggested.values() if found)
        ),
        incomplete=frozenset(domain for domain, found in suggested.items() if found is None),
        safety_score=safety_score,
    )


def _domain_categories(
    domain: Domain, chosen: Mapping[str, frozenset[str]]
) -> frozenset[str] | None:
    """Categories a domain suggests: empty when negative, None when a missing answer could matter.

    One positive answer settles the domain; a negative one needs every other question answered.
    """
    questions = [code for code, question in QUESTIONS.items() if question.domain == domain]
    found = frozenset[str]().union(
        *(
            _POSITIVE_ANSWERS[question].get(answer, frozenset())
            for question in questions
            for answer in chosen.get(question, ())
        )
    )
    if found:
        return found
    if all(question in chosen for question in questions):
        return frozenset()
    return None


def _safety_score(chosen: Mapping[str, frozenset[str]]) -> int | None:
    questions = [code for code, question in QUESTIONS.items() if question.domain == Domain.SAFETY]
    if not all(question in chosen for question in questions):
        return None
    return sum(_SAFETY_POINTS[answer] for question in questions for answer in chosen[question])


def _validated(answers: Mapping[str, str | Sequence[str]]) -> dict[str, frozenset[str]]:
    """Answers as question code -> set of answer codes, or InvalidScreening with every problem."""
    problems: list[str] = []
    chosen: dict[str, frozenset[str]] = {}
    for code, given in answers.items():
        question = QUESTIONS.get(code)
        if question is None:
            problems.append(f"{code!r} is not an AHC HRSN question code")
            continue
        wrong = _answer_problems(question, given)
        if wrong:
            problems.extend(wrong)
        else:
            chosen[code] = frozenset([given] if isinstance(given, str) else given)
    if problems:
        raise InvalidScreening(problems)
    return chosen


def _answer_problems(question: Question, given: object) -> list[str]:
    named = f"question {question.code} ({question.text})"
    if isinstance(given, str):
        codes: Sequence[object] = [given]
    elif isinstance(given, list | tuple):
        if not question.multiple:
            return [f"{named} takes one answer code, not a list"]
        if not given:
            return [f"{named}: the list of answers is empty; leave the question out instead"]
        codes = given
    else:
        return [f"{named}: expected an answer code, got {type(given).__name__}"]

    allowed = question.answer_codes
    problems = [
        f"{named}: {code!r} is not one of its answers ({', '.join(allowed)})"
        for code in codes
        if code not in allowed
    ]
    distinct = {code for code in codes if isinstance(code, str)}
    if NONE_OF_THE_ABOVE in distinct and len(distinct) > 1:
        problems.append(
            f"{named}: {NONE_OF_THE_ABOVE} (none of these) cannot be combined with other answers"
        )
    return problems
