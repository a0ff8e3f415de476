"""Short answers with a confidence of their own, for answers ranked with sentence vectors.

Every span of the first hit that could answer a question (a number, a date, a run of capitalised
words: `answers.candidates`) is scored by a logistic model over what the question asks ("how many",
"who", "which …") and where the span stands among the question's words. The best span is shown in
bold only when a second logistic model, over that score, the ranking's lead and how much of the
question the sentence holds, puts its expected token F1 at SHOW_THRESHOLD or more: a wrong bold
answer is worse than none. Both models were fitted on SQuAD's tune split by
bench/tune_short_answers.py, which writes index/answers/short_answer_weights.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from index.answers.short_answer_weights import SHOW_THRESHOLD, SHOW_WEIGHTS, SPAN_WEIGHTS
from index.articles.text import normalise, tokenize
from index.ranking.answer_types import PLACE_BEFORE, AnswerType, candidates

_WH = re.compile(
    r"\b(how many|how much|how long|how old|how far|how large|how big|when|who|whom|whose|where|which|what|why|how)\b"
)
# "What year …" asks for a date and "what percentage …" for a number, as surely as "when" and "how many".
_DATE_NOUNS = frozenset("year years decade decades century centuries date day days month months era period".split())
_COUNT_NOUNS = frozenset("percentage percent number amount population price cost age size rate total share".split())
_AUXILIARIES = frozenset("is was are were did does do has have had can could will would should may might".split())
_WORD = re.compile(r"[^\W_]+")
_LOWER_NEXT = re.compile(r"\s[a-z]")
_POSSESSIVE = re.compile(r"['’]s$")
# A span this many words or more from every question word is as far as any.
_FAR = 30
# The lead over the second hit, and the margin over the second span, stop mattering past this.
_CAP = 5.0


def question_class(question: str) -> tuple[str, str | None]:
    """What `question` asks for (count, measure, date, who, where, what_noun, what_verb, which_noun,
    which_verb or other), and the first search token after its question word (often its verb or the
    noun it asks about)."""
    text = normalise(question)
    match = _WH.search(text)
    if match is None:
        return "other", None
    word = match.group(1)
    following = text[match.end() :].split()
    after = tokenize(text[match.end() :])
    head = after[0] if after else None
    if word in ("how many", "how much"):
        return "count", head
    if word.startswith("how "):  # how long, old, far, large, big
        return "measure", head
    if word == "when":
        return "date", head
    if word in ("who", "whom", "whose"):
        return "who", head
    if word in ("what", "which"):
        if _DATE_NOUNS & set(following[:2]):
            return "date", head
        if _COUNT_NOUNS & set(following[:3]):
            return "count", head
        # "What did Blinken promise?" asks for a thing done or said, "what drama …" for a named one.
        verb = bool(following) and following[0] in _AUXILIARIES
        return f"{word}_{'verb' if verb else 'noun'}", head
    return ("where", head) if word == "where" else ("other", head)


@dataclass(frozen=True)
class Span:
    """A span that could answer, with its features (names as in SPAN_WEIGHTS)."""

    text: str
    kind: AnswerType
    features: dict[str, float]


def spans(question: str, sentence: str) -> list[Span]:
    """Every span of `sentence` that could answer `question`, with its features, in no set order."""
    asked, head = question_class(question)
    question_tokens = set(tokenize(question))
    words = list(_WORD.finditer(sentence))
    tokens = [_search_token(w.group()) for w in words]
    anchors = [i for i, token in enumerate(tokens) if token is not None and token in question_tokens]
    heads = [i for i, token in enumerate(tokens) if head is not None and token == head]
    found = []
    for kind in AnswerType:
        # A span the question already names is not its answer ("Who did Bazoum call?" is not "Bazoum").
        own = [c for c in candidates(sentence, kind) if not set(tokenize(c.text)) <= question_tokens]
        for candidate in own:
            inside = [i for i, w in enumerate(words) if w.start() >= candidate.start and w.end() <= candidate.end]
            if not inside:
                continue
            first, last = inside[0], inside[-1]
            outside = [a for a in anchors if a < first or a > last]
            # In words to the nearest question word outside the span (0 when all are inside it, _FAR when none
            # is in the sentence).
            distance = min(min(abs(a - first), abs(a - last)) for a in outside) if outside else 0 if anchors else _FAR
            near = {tokens[a] for a in outside if first - 6 <= a <= last + 6}
            span_tokens = tokenize(candidate.text)
            pair = f"{asked}x{kind.name}"
            features = {
                pair: 1.0,
                f"{pair}_near": len(near) / max(len(question_tokens), 1),
                f"{pair}_inv_d": 1 / (1 + distance),
                "inv_d": 1 / (1 + distance),
                "log_d": math.log1p(distance),
                "adjacent": float(distance <= 1),
                "near": len(near) / max(len(question_tokens), 1),
                "question_words_left": float(any(a < first for a in anchors)),
                "question_words_right": float(any(a > last for a in anchors)),
                "overlap": sum(t in question_tokens for t in span_tokens) / max(len(span_tokens), 1),
                "one_of": 1 / len(own),
                "length": min(len(inside), 6) / 6,
                "one_word": float(len(inside) == 1),
                "after_place_word": float(bool(PLACE_BEFORE.search(sentence[: candidate.start]))),
                f"after_place_word_{asked}": float(bool(PLACE_BEFORE.search(sentence[: candidate.start]))),
                "opens_sentence": float(candidate.start == 0),
                "question_words": min(len(anchors), 10) / 10,
                f"head_after_{asked}": float(any(last < i <= last + 6 for i in heads)),
                f"head_before_{asked}": float(any(first - 6 <= i < first for i in heads)),
                "in_brackets": float(sentence[max(candidate.start - 1, 0) : candidate.start] == "("),
                # "the West African regional bloc", "Benin's President": a name that qualifies what follows.
                "before_lower_case": float(bool(_LOWER_NEXT.match(sentence, candidate.end))),
                "possessive": float(bool(_POSSESSIVE.search(candidate.text))),
            }
            found.append(Span(candidate.text, kind, features))
    return found


@lru_cache(maxsize=65_536)
def _search_token(word: str) -> str | None:
    """A word's search token (None for a stop word); cached, as an archive's sentences share their words."""
    return next(iter(tokenize(word)), None)


def linear(weights: dict[str, float], features: dict[str, float]) -> float:
    """The model's logit: its bias plus the weighted features (a feature it was not fitted on weighs 0)."""
    return weights.get("bias", 0.0) + sum(weights.get(name, 0.0) * value for name, value in features.items())


@dataclass(frozen=True)
class Choice:
    """The best span of a sentence, and the features that decide whether it is shown."""

    span: Span
    features: dict[str, float]


def choose(question: str, sentence: str, lead: float, span_weights: dict[str, float] = SPAN_WEIGHTS) -> Choice | None:
    """The best span for `question` in `sentence` (None: none could answer), with its show features.
    `lead` is how far the sentence's score leads the second hit's (inf: no second hit)."""
    found = spans(question, sentence)
    if not found:
        return None
    scores = sorted(((linear(span_weights, s.features), n) for n, s in enumerate(found)), reverse=True)
    best_score, best = scores[0]
    margin = best_score - scores[1][0] if len(scores) > 1 else _CAP
    span = found[best]
    asked, _ = question_class(question)
    question_tokens = set(tokenize(question))
    features = {
        "span_score": best_score,
        "margin": min(margin, _CAP),
        "lead": min(lead, _CAP),
        f"asks_{asked}": 1.0,
        f"kind_{span.kind.name}": 1.0,
        "question_words_held": len(question_tokens & set(tokenize(sentence))) / max(len(question_tokens), 1),
        "spans": min(len(found), 10) / 10,
        "near": span.features["near"],
        "inv_d": span.features["inv_d"],
    }
    return Choice(span, features)


def expected_f1(choice: Choice) -> float:
    """The show model's estimate of the chosen span's token F1 against the right answer."""
    return 1 / (1 + math.exp(-linear(SHOW_WEIGHTS, choice.features)))


def trusted_short_answer(question: str, sentence: str, lead: float) -> str | None:
    """The short answer to show in bold for `question` from its first hit `sentence`, or None."""
    choice = choose(question, sentence, lead)
    return choice.span.text if choice is not None and expected_f1(choice) >= SHOW_THRESHOLD else None
