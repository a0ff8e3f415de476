"""Follow-up questions in the core: the context parameter, the weighting hook, and when a question leans on
the previous one. Standalone questions must be answered exactly as before follow-ups existed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index import Bm25, SearchIndex, build_index
from index.answers.followup import ask_in_conversation, leans_on_previous
from index.ranking.question import weighted_terms
from tests.record_seed_answers import answer_record

DATA = Path(__file__).parent.parent / "data"
ROOT = Path(__file__).parent.parent.parent
SEED_QUESTIONS = [q["question"] for q in json.loads((DATA / "seed_questions.json").read_text("utf-8"))["questions"]]
RECORDED = json.loads((DATA / "seed_answers.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def seed_index() -> SearchIndex:
    index, _ = build_index(ROOT / "seeds", use_cache=False)
    return index


def test_the_recorded_answers_cover_every_seed_question():
    assert [r["question"] for r in RECORDED["answers"]] == SEED_QUESTIONS


def test_standalone_questions_are_answered_exactly_as_recorded_before_follow_ups(seed_index):
    k = RECORDED["passages"]
    for recorded in RECORDED["answers"]:
        question = recorded["question"]
        assert answer_record(seed_index.ask(question, k)) == recorded
        assert answer_record(seed_index.ask(question, k, context=None)) == recorded
        assert answer_record(ask_in_conversation(seed_index, question, k, None).answer) == recorded


def test_in_a_conversation_only_the_question_that_points_back_changes(seed_index):
    """Each seed question asked right after the one before it in the file: "Who condemned it?" leans on its
    predecessor (a pronoun); four more are not confident alone but are, and right, with its words; every other
    one, answerable or not, gets exactly its recorded answer."""
    k = RECORDED["passages"]
    followed = []
    for previous, recorded in zip(SEED_QUESTIONS, RECORDED["answers"][1:], strict=False):
        result = ask_in_conversation(seed_index, recorded["question"], k, previous)
        if result.followed_up is None:
            assert answer_record(result.answer) == recorded
        else:
            assert result.followed_up == previous
            followed.append((recorded["question"], result.answer.hits[0].sentence))
    assert followed == [
        ("Who condemned it?", 5),
        ("Which countries have military bases in Niger?", 5),
        ("Who wants the president released?", 6),
        ("Which news bulletin was not broadcast?", 8),
        ("What caused the coup according to the newspaper?", 23),
    ]


@pytest.mark.parametrize(
    ("question", "leans"),
    [
        ("Who condemned it?", True),
        ("How old is he?", True),
        ("What did they say?", True),
        ("Who lives there?", True),
        ("What about Benin?", True),
        ("and who leads the junta?", True),
        ("How about the army?", True),
        ("Who condemned the coup?", False),
        ("What did the army chief say?", False),
        ("Which countries have military bases in Niger?", False),
        ("Is that true of the bases?", False),  # "that" is too often no pointer at all
        ("", False),
    ],
)
def test_leans_on_previous(question, leans):
    assert leans_on_previous(question) is leans


def test_a_pronoun_follow_up_finds_what_the_previous_question_was_about(seed_index):
    alone = seed_index.ask("How old is he?", 1)
    result = ask_in_conversation(seed_index, "How old is he?", 1, "Who is Mohamed Bazoum?")
    assert alone.hits[0].sentence == 29  # alone, "old" matches another sentence
    assert result.followed_up == "Who is Mohamed Bazoum?"
    assert result.answer.hits[0].sentence == 7  # "…Mr Bazoum, 64, …"
    assert result.answer.confident


def test_a_question_that_finds_nothing_alone_is_retried_with_the_context(seed_index):
    question = "What is the capital of Australia?"
    assert not seed_index.ask(question, 1).confident
    result = ask_in_conversation(seed_index, question, 1, "Who is in charge?")
    assert result.followed_up is None  # the context did not make it confident either: answered alone
    assert answer_record(result.answer) == answer_record(seed_index.ask(question, 1))


def test_context_terms_come_after_the_question_at_the_lower_weight():
    assert weighted_terms("Who condemned it?", "What happened in Niger's capital?", 0.5) == {
        "condemn": 1.0,
        "happen": 0.5,
        "niger": 0.5,
        "capit": 0.5,
    }
    assert weighted_terms("Who condemned Niger?", "Niger?", 0.5) == {"condemn": 1.0, "niger": 1.0}
    assert weighted_terms("Who condemned it?", None) == {"condemn": 1.0}


def test_bm25_weights_scale_each_term():
    bm25 = Bm25.from_tokens([["coup", "niger"], ["coup"], ["niger", "army"], ["army"], ["rain"], ["sun"], ["wind"]])
    plain = bm25.top(["coup", "army"], 4)
    unit = bm25.top(["coup", "army"], 4, [1.0, 1.0])
    assert plain.docs.tolist() == unit.docs.tolist()
    assert np.array_equal(plain.scores, unit.scores)
    for tokens, weights in ((["coup", "niger"], [1.0, 0.5]), (["unknown", "coup", "army"], [1.0, 0.25, 0.5])):
        found = bm25.top(tokens, 7, weights)
        expected = sum(w * bm25.scores([t]) for t, w in zip(tokens, weights, strict=True))
        assert found.scores.tolist() == pytest.approx(sorted(expected[expected > 0], reverse=True))
        assert found.scores.tolist() == pytest.approx(expected[found.docs].tolist())
