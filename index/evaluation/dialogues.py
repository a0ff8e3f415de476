"""Measuring follow-up questions: two-turn dialogues, second-turn R@1 with and without the first as context.

A dialogue file (tests/data/dialogues.json) holds articles (text with an id and title) and dialogues: two
questions, the second leaning on the first, and `evidence`, a phrase of the sentence that answers the second.
The articles of the file and of a seeds folder form one index; each second question is asked alone, as the
bot answers it in a conversation (index.followup), and always with the first question as context.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.answers.followup import ask_in_conversation
from index.answers.results import Answer
from index.articles.article import Article, parse_article
from index.ranking.question import CONTEXT_WEIGHT
from index.serving.building import index_articles, load_articles
from index.serving.search_index import SearchIndex


@dataclass(frozen=True)
class Dialogue:
    article: str  # the id of the article that answers the second question
    first: str
    second: str
    evidence: str  # a phrase of the answering sentence


@dataclass(frozen=True)
class DialogueReport:
    dialogues: int
    alone_right: int  # second questions right at rank 1, asked alone
    conversation_right: int  # … asked as the bot does in a conversation
    context_right: int  # … always with the first question as context
    followed_up: int  # second questions the conversation read with the first

    def table(self) -> str:
        n = self.dialogues

        def share(right: int) -> str:
            return f"{right / n:.3f} ({right}/{n})" if n else "–"

        return "\n".join(
            [
                "| second question asked | R@1 |",
                "|---|---|",
                f"| alone (no context) | {share(self.alone_right)} |",
                f"| in a conversation, as the bot does (followed up on {self.followed_up} of {n}) | "
                f"{share(self.conversation_right)} |",
                f"| always with the first question as context | {share(self.context_right)} |",
                "",
            ]
        )


def _article(entry: dict[str, Any]) -> Article:
    data = f"title: {entry['title']}\n\n{entry['text']}".encode()
    return parse_article(str(entry["id"]), data)


def load_dialogues(path: Path) -> tuple[list[Article], list[Dialogue]]:
    """The articles and dialogues of a dialogue file. Raises OSError, or ValueError (also KeyError, IndexError,
    TypeError) naming what is out of shape."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    articles = [_article(entry) for entry in document["articles"]]
    dialogues = [
        Dialogue(str(d["article"]), str(d["turns"][0]), str(d["turns"][1]), str(d["evidence"]))
        for d in document["dialogues"]
    ]
    return articles, dialogues


def dialogue_index(path: Path, seeds: Path) -> tuple[SearchIndex, list[Dialogue]]:
    """One index over the file's articles and the seeds folder's, and the dialogues."""
    articles, dialogues = load_dialogues(path)
    seeded, _ = load_articles(seeds)
    known = {article.id for article in (*seeded, *articles)}
    for number, dialogue in enumerate(dialogues):
        if dialogue.article not in known:
            raise ValueError(
                f"dialogues[{number}] names the article {dialogue.article!r}, which is neither in the file "
                "nor in the seeds folder"
            )
    return index_articles([*seeded, *articles]), dialogues


def gold(index: SearchIndex, dialogue: Dialogue) -> set[tuple[str, int]]:
    """(article, 1-based sentence) of every sentence of the dialogue's article holding its evidence."""
    article = next((a for a in index.articles if a.id == dialogue.article), None)
    if article is None:
        raise ValueError(f"no article {dialogue.article!r} in the index")
    return {(article.id, n) for n, text in enumerate(article.sentences, 1) if dialogue.evidence in text}


def _right(answer: Answer, wanted: set[tuple[str, int]]) -> bool:
    return bool(answer.hits) and (answer.hits[0].article, answer.hits[0].sentence) in wanted


def evaluate_dialogues(
    index: SearchIndex, dialogues: Sequence[Dialogue], context_weight: float = CONTEXT_WEIGHT
) -> DialogueReport:
    """Second-turn R@1 alone, in a conversation, and always with context. Raises ValueError on bad gold."""
    alone = conversation = context = followed = 0
    for dialogue in dialogues:
        wanted = gold(index, dialogue)
        if not wanted:
            raise ValueError(f"no sentence of {dialogue.article} holds {dialogue.evidence!r}")
        alone += _right(index.ask(dialogue.second, 1), wanted)
        result = ask_in_conversation(index, dialogue.second, 1, dialogue.first)
        conversation += _right(result.answer, wanted)
        followed += result.followed_up is not None
        context += _right(index.ask(dialogue.second, 1, context=dialogue.first, context_weight=context_weight), wanted)
    return DialogueReport(len(dialogues), alone, conversation, context, followed)
