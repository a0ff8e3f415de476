"""What a question asks for, and the short answer of that type a sentence holds.

"How many/much" asks for a number, "when" (and "what year") for a date, "who" for a name.
Candidates are found with patterns (digits and number words; years, months, weekdays and
centuries; runs of capitalised words), and the one nearest the question's own words wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from index.articles.stopwords import STOP_WORDS
from index.articles.text import normalise


class AnswerType(Enum):
    NUMBER = "number"
    DATE = "date"
    NAME = "name"


# The questions a short answer is shown for: "how many/much", "when" (and "what year"), "who".
_SHORT_ANSWER_PATTERNS = (
    (AnswerType.NUMBER, re.compile(r"\bhow (many|much)\b|\bwhat (number|percentage|amount) of\b")),
    (
        AnswerType.DATE,
        re.compile(r"\bwhen\b|\b(what|which) (year|decade|century|date|day|month)\b|\bin what (year|month)\b"),
    ),
    (AnswerType.NAME, re.compile(r"\bwho(m|se)?\b")),
)
# Questions whose answer is of a known type too, though too loosely for a short answer:
# they only help ranking ("how long" wants a number, "where" a capitalised place).
_RANKING_PATTERNS = (
    *_SHORT_ANSWER_PATTERNS,
    (AnswerType.NUMBER, re.compile(r"\bhow (long|old|far|large|big|tall|high|fast|often|heavy|wide|deep)\b")),
    (AnswerType.NAME, re.compile(r"\bwhere\b")),
)


def _earliest(question: str, patterns: tuple[tuple[AnswerType, re.Pattern[str]], ...]) -> AnswerType | None:
    text = normalise(question)
    # The earliest question word decides: "Who was president when ...?" asks for a name.
    found = [(m.start(), kind) for kind, pattern in patterns if (m := pattern.search(text))]
    return min(found, key=lambda f: f[0])[1] if found else None


def question_type(question: str) -> AnswerType | None:
    """The kind of short answer `question` asks for: a number, a date or a name (or None)."""
    return _earliest(question, _SHORT_ANSWER_PATTERNS)


def expected_type(question: str) -> AnswerType | None:
    """The kind of answer `question` expects, more loosely: what the re-ranker looks for."""
    return _earliest(question, _RANKING_PATTERNS)


# "What is the population of …?" asks for a number as surely as "how many" does.
_QUANTITY = re.compile(
    r"\bwhat(?:'s| is| was| are| were)? the (?:population|price|cost|number|percentage|rate|age|height|length|"
    r"size|weight|area|distance|temperature|budget|salary|value|death toll|toll)\b"
)


def required_type(question: str) -> AnswerType | None:
    """The kind of answer a sentence must hold to answer `question` confidently: a number or a date.

    (A name is asked for too loosely for that: nearly every sentence holds a capitalised word.)
    """
    kind = expected_type(question)
    if kind is None and _QUANTITY.search(normalise(question)):
        kind = AnswerType.NUMBER
    return kind if kind in (AnswerType.NUMBER, AnswerType.DATE) else None


def holds_answer_of(sentence: str, kind: AnswerType) -> bool:
    return bool(candidates(sentence, kind))


_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion dozen dozens hundreds thousands millions billions half"
)
_MONTHS = "january february march april may june july august september october november december"
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday"
_NUMBER_WORD = rf"(?:{'|'.join(_NUMBER_WORDS.split())})"
_DIGITS = r"(?:[$£€]\s?)?\d+(?:[.,]\d+)*(?:\s?%|\s?(?:percent|per cent))?"
_SCALE = r"(?:\s(?:hundred|thousand|million|billion|trillion))?"
_NUMBER = re.compile(rf"(?<![\w-])(?:{_DIGITS}{_SCALE}|{_NUMBER_WORD}(?:[\s-]{_NUMBER_WORD})*)(?![\w-])", re.IGNORECASE)
_MONTH = rf"(?:{'|'.join(m.capitalize() for m in _MONTHS.split())})"
_YEAR = r"(?:1\d{3}|20\d{2})(?:s)?"
_DATE = re.compile(
    rf"\b(?:{_MONTH}\s\d{{1,2}}(?:st|nd|rd|th)?,?\s{_YEAR}"  # July 26, 2023
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s{_MONTH}(?:\s{_YEAR})?"  # 26 July 2023
    rf"|{_MONTH}(?:\s{_YEAR})?"  # July 2023
    rf"|(?:early |late |mid-)?{_YEAR}"  # 1960, the 1960s
    rf"|\d{{1,2}}(?:st|nd|rd|th)\scentury"  # 18th century
    rf"|(?:\d+|{_NUMBER_WORD}|a|an)\s(?:days?|weeks?|months?|years?|decades?)\sago"  # two years ago
    rf"|(?:{'|'.join(d.capitalize() for d in _WEEKDAYS.split())})(?:\s(?:morning|afternoon|evening|night))?)\b"
)
# A name: capitalised words, possibly joined by a few lower-case connectors ("University of Chicago").
_CAPITALISED = r"[A-Z][\w'’.-]*"
_NAME = re.compile(rf"\b{_CAPITALISED}(?:\s(?:(?:of|de|da|van|von|al|bin|the|and)\s)?{_CAPITALISED})*")
# A capitalised word right after these is a place more often than a person.
PLACE_BEFORE = re.compile(r"\b(?:in|of|at|from|to|into|across|near)\s$", re.IGNORECASE)
_NOT_NAMES = frozenset(_MONTHS.split()) | frozenset(_WEEKDAYS.split()) | STOP_WORDS


@dataclass(frozen=True)
class Candidate:
    text: str
    start: int  # character offsets in the sentence
    end: int


def candidates(sentence: str, kind: AnswerType) -> list[Candidate]:
    """Every span of `sentence` that could answer a question asking for `kind`, in order."""
    if kind is AnswerType.NUMBER:
        # A number inside a date ("26 July 2023", "in 1960") counts days or years, not things.
        dates = [(m.start(), m.end()) for m in _DATE.finditer(sentence)]
        return [
            Candidate(m.group(), m.start(), m.end())
            for m in _NUMBER.finditer(sentence)
            if not any(start <= m.start() < end for start, end in dates)
        ]
    if kind is AnswerType.DATE:
        return [Candidate(m.group(), m.start(), m.end()) for m in _DATE.finditer(sentence)]
    found = []
    for match in _NAME.finditer(sentence):
        text = match.group().rstrip(".")
        words = text.split()
        # A lone capitalised stop word or month ("The", "July") is no name.
        while words and words[0].lower() in _NOT_NAMES:
            words.pop(0)
        if not words or all(w.lower() in _NOT_NAMES for w in words):
            continue
        name = " ".join(words)
        start = match.start() + match.group().find(name)
        # One capitalised word opening the sentence is usually just a capital ("Trouble began").
        if start == 0 and len(words) == 1:
            continue
        # "in charge of Niger": after a preposition of place, a name is a place, not a person
        # (on SQuAD "who" questions, skipping these raises exact match from 0.383 to 0.404).
        if PLACE_BEFORE.search(sentence[:start]):
            continue
        found.append(Candidate(name, start, start + len(name)))
    return found


_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class ShortAnswer:
    """A short answer and what tells how far to trust it."""

    text: str
    kind: AnswerType
    rivals: int  # other candidates of the same kind in the sentence
    distance: int | None  # characters to the nearest question word (None: none of them is in the sentence)


def find_short_answer(question: str, sentence: str) -> ShortAnswer | None:
    """The candidate of the asked type nearest the question's words in `sentence`, if any."""
    kind = question_type(question)
    if kind is None:
        return None
    asked = {w for w in _WORD.findall(normalise(question)) if w not in STOP_WORDS}
    # A candidate the question already names is not its answer ("Who did Bazoum call?" is not "Bazoum").
    found = [c for c in candidates(sentence, kind) if not set(_WORD.findall(normalise(c.text))) <= asked]
    if not found:
        return None
    anchors = [m.start() for m in _WORD.finditer(sentence) if normalise(m.group()) in asked]
    if not anchors:
        return ShortAnswer(found[0].text, kind, len(found) - 1, None)

    def distance(candidate: Candidate) -> int:
        return min(min(abs(a - candidate.start), abs(a - candidate.end)) for a in anchors)

    best = min(found, key=distance)
    return ShortAnswer(best.text, kind, len(found) - 1, distance(best))


def short_answer(question: str, sentence: str) -> str | None:
    """The text of `find_short_answer`."""
    found = find_short_answer(question, sentence)
    return found.text if found else None
