"""Follow-up questions: when the previous question of a conversation is context for the next one.

"Who condemned it?" after "What happened in Niger?" means Niger's coup. A question leans on the one
before when it points back (a pronoun, "what about …", "and who …"), or when its own words find
nothing confident; it is then searched with the previous question's words at a lower weight
(`SearchIndex.ask(..., context=...)`). A question that stands on its own is answered as if asked alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from index.answers.results import DEFAULT_HITS, Answer
from index.articles.text import words

# Words that point back to something named earlier. "this", "that", "these" and "those" are left out:
# they open relative clauses and name things too often ("that the army said", "this year").
POINTING_WORDS = frozenset(
    "it its itself they them their theirs themselves he him his himself she her hers herself there".split()
)
# Openings that continue the conversation: "what about Benin?", "and who leads it?", "how about the army?".
_CONTINUING = re.compile(
    r"^\s*(?:and|but|also|so|then|what about|how about|what else|anything else|same for|and what about)\b",
    re.IGNORECASE,
)


def leans_on_previous(question: str) -> bool:
    """True when `question` points back to an earlier one: a pronoun or a continuing opening."""
    if _CONTINUING.match(question):
        return True
    return any(word in POINTING_WORDS for word in words(question))


class Asks(Protocol):
    """What answers questions: a SearchIndex (or an index of one article)."""

    def ask(self, question: str, k: int = DEFAULT_HITS, context: str | None = None) -> Answer: ...


@dataclass(frozen=True)
class ConversationAnswer:
    """An answer in a conversation; `followed_up` is the previous question when it was used as context."""

    answer: Answer
    followed_up: str | None = None


def ask_in_conversation(index: Asks, question: str, k: int, previous: str | None) -> ConversationAnswer:
    """Answer `question`, using `previous` (the same person's last question, if recent) when it leans on it.

    A question that points back is searched with the context; any other is searched alone first, and
    only when that finds nothing confident is the context tried, and kept if it makes the answer confident.
    """
    if previous is None or not previous.strip():
        return ConversationAnswer(index.ask(question, k))
    if leans_on_previous(question):
        return ConversationAnswer(index.ask(question, k, context=previous), previous)
    alone = index.ask(question, k)
    if alone.confident:
        return ConversationAnswer(alone)
    joined = index.ask(question, k, context=previous)
    return ConversationAnswer(joined, previous) if joined.confident else ConversationAnswer(alone)
