"""The development set over the seed article: how often the first passage is right, and how
often a question the article cannot answer is rightly not confident. The shares asserted are
the ones reached when the set was written, so a ranking change that loses any of them fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from index import Article, SearchIndex, build_index, index_articles
from index.ranking.candidates import CANDIDATES

ROOT = Path(__file__).parent.parent.parent
DEV_SET = json.loads((Path(__file__).parent.parent / "data" / "seed_questions.json").read_text(encoding="utf-8"))
ANSWERABLE = [q for q in DEV_SET["questions"] if q["gold"] is not None]
UNANSWERABLE = [q for q in DEV_SET["questions"] if q["gold"] is None]
RIGHT_AT_RANK_1 = 29 / 37
RIGHTLY_NOT_CONFIDENT = 9 / 10


@pytest.fixture(scope="module")
def seed_index() -> SearchIndex:
    index, _ = build_index(ROOT / "seeds")
    return index


def test_the_dev_set_is_big_enough() -> None:
    assert len(ANSWERABLE) == 37
    assert len(UNANSWERABLE) == 10


def test_share_right_at_rank_1(seed_index: SearchIndex) -> None:
    right = sum(
        bool(hits) and hits[0].sentence == q["gold"]
        for q in ANSWERABLE
        for hits in [seed_index.search(q["question"], 1)]
    )
    assert right / len(ANSWERABLE) >= RIGHT_AT_RANK_1


def test_share_of_unanswerable_questions_not_confident(seed_index: SearchIndex) -> None:
    rightly = sum(not seed_index.ask(q["question"], 1).confident for q in UNANSWERABLE)
    assert rightly / len(UNANSWERABLE) >= RIGHTLY_NOT_CONFIDENT


@pytest.mark.parametrize(
    ("question", "sentence", "starts"),
    [
        ("Who is in charge?", 20, "It is not clear at the moment who is really in charge of Niger."),
        ("Who condemned it?", 5, "The US and France, the former colonial power"),
        ("How many coups?", 33, "The vast arid country on the edge of the Sahara desert"),
    ],
)
def test_the_readme_questions_come_first_and_confident(
    seed_index: SearchIndex, question: str, sentence: int, starts: str
) -> None:
    answer = seed_index.ask(question, 3)
    assert answer.confident
    assert answer.hits[0].sentence == sentence
    assert answer.hits[0].text.startswith(starts)


def test_short_answers_on_the_seed(seed_index: SearchIndex) -> None:
    assert seed_index.ask("How many coups?").short_answer == "four"
    assert seed_index.ask("When was Bazoum elected?").short_answer == "two years ago"
    assert seed_index.ask("Who announced the takeover?").short_answer == "Col Maj Amadou Abdramane"
    # A confident hit without a name in it gives no short answer ("Niger" is a place here).
    assert seed_index.ask("Who is in charge?").short_answer is None
    # No short answer without a confident hit, nor for a question of another kind.
    assert seed_index.ask("Who wrote Hamlet?").short_answer is None
    assert seed_index.ask("Why was France reprimanded?").short_answer is None


def test_hits_are_ordered_by_the_reranked_score(seed_index: SearchIndex) -> None:
    hits = seed_index.search("How many coups has Niger had since independence?", 5)
    assert [h.sentence for h in hits][:1] == [33]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_ask_prints_the_short_answer_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--seeds", str(ROOT / "seeds"), "-k", "1", "How many coups?"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Q: How many coups?", "   Answer: four"]
    assert main(["ask", "--seeds", str(ROOT / "seeds"), "--json", "How many coups?"]) == 0
    assert json.loads(capsys.readouterr().out)["short_answer"] == "four"


def test_more_hits_than_re_ranked_candidates_can_be_asked_for() -> None:
    sentences = tuple(f"Coup number {n} happened in town {n}." for n in range(CANDIDATES + 10))
    index = index_articles([Article("many.txt", "Many coups", None, None, None, sentences, digest="")])
    hits = index.search("coup", CANDIDATES + 20)
    assert len(hits) == CANDIDATES + 10
    assert len({h.sentence for h in hits}) == CANDIDATES + 10
