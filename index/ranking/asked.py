"""A question analysed once: what it asks for and what it names, read by ranking, confidence and short answers.

Before this module four functions classified questions, each its own way; now `analyse` parses the question
word once ("how many", "when", "which year", "why", "is …?") and everything else derives from that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from index.articles.stopwords import STOP_WORDS
from index.articles.text import normalise, stem_of, words

_WH = re.compile(
    r"\b(how many|how much|how long|how old|how far|how large|how big|when|who|whom|whose|where|which|what|why|how)\b"
)
# Measures the short-answer model was fitted without (it reads them as "other"); the ranking wants a number.
_MORE_MEASURES = re.compile(r"\bhow (?:tall|high|fast|often|heavy|wide|deep)\b")
# "What year …" asks for a date and "what percentage …" for a number, as surely as "when" and "how many".
_DATE_NOUNS = frozenset("year years decade decades century centuries date day days month months era period".split())
_COUNT_NOUNS = frozenset("percentage percent number amount population price cost age size rate total share".split())
_AUXILIARIES = frozenset("is was are were did does do has have had can could will would should may might".split())
# A question that opens with one of these asks yes or no ("Is Russia involved?", "Did anyone die?").
_YES_NO = re.compile(r"^(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might)\b")
# "What caused …", "what was the reason …": a cause is asked for, as by "why".
_REASON = re.compile(r"\bwhat (?:caused|prompted|triggered|led to|drove|sparked)\b|\b(?:the|what) reasons?\b")
# A capitalised first word that names nothing: an instruction ("Name the …", "Tell me …").
_INSTRUCTIONS = frozenset("name tell list give describe explain define identify please".split())
# Words that join the parts of one name ("University of Chicago", "Abu Bakr al Baghdadi").
_NAME_JOINERS = frozenset("of de da del al bin van von".split())
_TOKEN = re.compile(r"[^\W_][\w'’.-]*")


class AnswerType(Enum):
    """A kind of answer a sentence can hold, found by patterns (ranking/answer_types.py)."""

    NUMBER = "number"
    DATE = "date"
    NAME = "name"


class Asked(Enum):
    """What a question asks for. The first nine are the short-answer model's classes (answers/short_answers.py)."""

    COUNT = "count"  # how many, how much, what number/percentage/population
    MEASURE = "measure"  # how long, old, far, …
    DATE = "date"  # when, what year
    WHO = "who"
    WHERE = "where"
    WHAT_NOUN = "what_noun"  # "what drama …": a named thing
    WHAT_VERB = "what_verb"  # "what did Blinken promise": a thing done or said
    WHICH_NOUN = "which_noun"
    WHICH_VERB = "which_verb"
    REASON = "reason"  # why, what caused
    YES_NO = "yes_no"  # is, did, has … ?
    OTHER = "other"  # how (a manner), or no question word


# What a ranked sentence should hold for each: a number, a date or a name (None: no one kind).
_EXPECTED = {
    Asked.COUNT: AnswerType.NUMBER,
    Asked.MEASURE: AnswerType.NUMBER,
    Asked.DATE: AnswerType.DATE,
    Asked.WHO: AnswerType.NAME,
    Asked.WHERE: AnswerType.NAME,
}


@dataclass(frozen=True)
class Question:
    """What `analyse` reads in a question."""

    text: str
    asked: Asked
    head: str | None  # the first search token after the question word (often its verb or the noun it asks about)
    # The runs of capitalised words and numbers, as search stems: what the question names ("African Union").
    names: tuple[tuple[str, ...], ...]
    # The class the short-answer model was fitted with (answers/short_answers.py): `asked` but for reason
    # and yes/no questions, which it reads as "other" or by their question word ("what caused" as what_verb).
    short_class: str

    @property
    def expected(self) -> AnswerType | None:
        """The kind of answer the ranking looks for in a sentence."""
        return _EXPECTED.get(self.asked)

    @property
    def required(self) -> AnswerType | None:
        """The kind of answer a sentence must hold to answer confidently: a number or a date (a name is
        asked for too loosely: nearly every sentence holds a capitalised word)."""
        kind = self.expected
        return kind if kind in (AnswerType.NUMBER, AnswerType.DATE) else None

    @property
    def short_type(self) -> AnswerType | None:
        """The kind of short answer shown by words alone: how many/much, when (and what year), who."""
        return {Asked.COUNT: AnswerType.NUMBER, Asked.DATE: AnswerType.DATE, Asked.WHO: AnswerType.NAME}.get(self.asked)


def _asked(text: str) -> tuple[Asked, str | None]:
    """What the question word asks for, as the short-answer model's classes (no reason or yes/no), and the head."""
    match = _WH.search(text)
    if match is None:
        return Asked.OTHER, None
    word = match.group(1)
    following = text[match.end() :].split()
    rest = [stem_of(w) for w in words(text[match.end() :]) if w not in STOP_WORDS]
    head = rest[0] if rest else None
    if word in ("how many", "how much"):
        return Asked.COUNT, head
    if word.startswith("how "):
        return Asked.MEASURE, head
    if word == "when":
        return Asked.DATE, head
    if word in ("who", "whom", "whose"):
        return Asked.WHO, head
    if word == "where":
        return Asked.WHERE, head
    if word in ("what", "which"):
        if _DATE_NOUNS & set(following[:2]):
            return Asked.DATE, head
        if _COUNT_NOUNS & set(following[:3]):
            return Asked.COUNT, head
        verb = bool(following) and following[0] in _AUXILIARIES
        return Asked(f"{word}_{'verb' if verb else 'noun'}"), head
    return Asked.OTHER, head


def _names(question: str) -> tuple[tuple[str, ...], ...]:
    runs: list[tuple[str, ...]] = []
    run: list[str] = []
    for n, token in enumerate(_TOKEN.findall(question)):
        word = normalise(token.strip(".'’-"))
        named = token[:1].isupper() or token[:1].isdigit()
        if named and word not in STOP_WORDS and not (n == 0 and word in _INSTRUCTIONS):
            run.extend(stem_of(w) for w in words(word) if w not in STOP_WORDS)
        elif run and word in _NAME_JOINERS:
            continue
        elif run:
            runs.append(tuple(run))
            run = []
    if run:
        runs.append(tuple(run))
    return tuple(dict.fromkeys(r for r in runs if r))


def analyse(question: str) -> Question:
    """What `question` asks for and names. Cheap (regular expressions over its first words)."""
    text = normalise(question)
    short, head = _asked(text)
    asked = short
    if _WH.search(text) is None and _YES_NO.match(text):
        asked = Asked.YES_NO
    elif re.search(r"\b(?:why|how come)\b", text) or _REASON.search(text):
        asked = Asked.REASON
    elif short is Asked.OTHER and _MORE_MEASURES.search(text):
        asked = Asked.MEASURE
    return Question(question, asked, head, _names(question), short.value)
