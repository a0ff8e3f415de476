"""The SQuAD benchmark's code path, on a hand-written SQuAD-shaped file (no shared data needed)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bot.cli import main
from index.evaluation.squad import (
    SquadQuestion,
    best_rank,
    exact_match,
    full_mrr,
    load_squad,
    retrieval,
    run_rank_bm25,
    sentence_at,
    sentence_starts,
    squad_normalise,
    token_f1,
)

DATA = Path(__file__).parent.parent / "data"
TINY = DATA / "squad_tiny.json"
SEEDS = Path(__file__).parent.parent.parent / "seeds"


def test_sentence_starts_survive_folded_whitespace() -> None:
    context = "The Loire is long.  It flows far.\nIts source is high."
    assert sentence_starts(context, ["The Loire is long.", "It flows far.", "Its source is high."]) == [0, 20, 34]


def test_an_offset_between_sentences_belongs_to_the_one_before() -> None:
    assert [sentence_at([0, 20, 34], offset) for offset in (0, 18, 19, 20, 33, 34, 99)] == [0, 0, 0, 1, 1, 2, 2]


def test_each_paragraph_is_an_article_and_gold_is_numbered_across_the_index() -> None:
    corpus = load_squad(TINY)
    assert [len(a.sentences) for a in corpus.articles] == [3, 2, 2]
    assert corpus.articles[0].sentences[1] == "It flows for 1,006 kilometres."
    # Every answer's sentence is gold, once, in the order of the answers (r1's two answers share one).
    assert [(q.id, q.golds, q.topic, q.article) for q in corpus.questions] == [
        ("r1", (1,), 0, 0),
        ("r2", (2,), 0, 0),
        ("r3", (4,), 0, 1),
        ("r4", (4, 3), 0, 1),
        ("b1", (5,), 1, 2),
        ("b2", (6,), 1, 2),
    ]
    assert corpus.questions[0].answers == ("1,006 kilometres", "1,006")


def test_gzip_is_read_directly(tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "tiny.json.gz"
    packed.write_bytes(gzip.compress(TINY.read_bytes()))
    assert load_squad(packed) == load_squad(TINY)


def test_splits_are_by_wikipedia_article() -> None:
    corpus = load_squad(TINY)
    late = SquadQuestion("x", "q", 30, 0, (0,), ("a",))
    with_late = type(corpus)(corpus.articles, (*corpus.questions, late))
    assert with_late.split("held-out") == (late,)
    assert len(with_late.split("tune")) == 6
    assert len(with_late.split("all")) == 7


def test_retrieval_metrics() -> None:
    metrics = retrieval([1, 2, None, 11, 5], seconds=2.0)
    assert metrics.questions == 5
    assert metrics.mrr == pytest.approx((1 + 0.5 + 0.2) / 5)
    assert (metrics.r1, metrics.r5, metrics.r10) == (0.2, 0.6, 0.6)
    assert metrics.per_second == 2.5


def test_a_question_ranks_where_its_best_placed_gold_sentence_is() -> None:
    assert best_rank([7, 3, 4], (4, 3)) == 2
    assert best_rank([7, 3, 4], (9,)) is None
    assert best_rank([], (1,)) is None


def test_full_ranking_mrr_has_no_cut_off() -> None:
    assert full_mrr([1, 20, None, 4]) == pytest.approx((1 + 0.05 + 0.25) / 4)


def test_squad_answer_scoring() -> None:
    assert squad_normalise("The  Denver Broncos!") == "denver broncos"
    assert exact_match("the Denver Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    assert exact_match("Broncos team", ["Denver Broncos"]) == 0.0
    assert token_f1("Broncos team", ["Denver Broncos"]) == pytest.approx(0.5)
    assert token_f1("Carolina", ["Denver Broncos"]) == 0.0


def test_rank_bm25_defaults_rank_gold_like_a_stable_sort() -> None:
    corpus = load_squad(TINY)
    ranks, _ = run_rank_bm25(corpus.sentences, corpus.questions)
    # "How long is the Loire?": "is"/"the" tie across sentences, "loire" wins for sentence 0.
    # r4's first answer's sentence ranks second, its other answer's sentence first.
    assert ranks == [None, 2, 2, 1, 1, 1]


def test_eval_command_prints_and_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.md"
    assert main(["eval", "squad", str(TINY), "--out", str(out), "--seeds", str(SEEDS)]) == 0
    printed = capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == printed
    assert "3 paragraphs as articles, 7 sentences in one index, 6 questions." in printed
    # Gold ranks by words: qa-bot None, 1, 1, 1, 1, 1 ("How long is the Loire?" shares no stem with its gold
    # sentence; the coverage of "the longest river in France" with its article's lead puts the source's first);
    # rank-bm25 None, 2, 2, 1, 1, 1.
    assert "| qa-bot, words only (all) | 6 | 0.833 | 0.833 | 0.833 | 0.833 |" in printed
    # With the sentence vectors, the Loire's gold sentence is found by meaning (rank 2): R@5 1.0.
    assert "| qa-bot, words and meaning (all) | 6 | 0.833 | 0.667 | 1.000 | 1.000 |" in printed
    assert "| rank-bm25 defaults (all) | 6 | 0.667 | 0.500 | 0.833 | 0.833 |" in printed
    assert "rank-bm25 defaults, MRR over the full ranking (all): 0.667" in printed
    assert "| qa-bot, words only | 0.833 |\n| qa-bot, words and meaning | 1.000 |" in printed
    # r4 ("Through which countries does the Rhine flow?") is first but its sentence lacks "countries" and "flow":
    # not confident; neither are the source's by words, nor, with vectors, one whose meaning is far from its hit.
    assert "| confident when the gold sentence is first (questions) | 0.600 (5) | 0.500 (4) |" in printed
    # Both pipelines give the "when" and "who" questions their short answers (1937, Joseph Strauss), and no other.
    shown = "| all: given (share of questions) / EM / token F1 where given | 2 (0.333) / 1.000 / 1.000 | 2 (0.333) "
    assert shown + "/ 1.000 / 1.000 |" in printed
    assert "| not confident when asked of the seed articles alone (6 questions) | 1.000 | 1.000 |" in printed
    lexical = main(["eval", "squad", str(TINY), "--seeds", str(SEEDS), "--lexical"])
    assert lexical == 0 and "words and meaning" not in capsys.readouterr().out


def test_eval_command_rejects_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "squad", str(tmp_path / "nope.json"), "--no-seed-check"]) == 2
    assert "is not a file" in capsys.readouterr().err


def _squad(context: object = "Rain fell.", answer_start: object = 0, **paragraph: object) -> str:
    qa = {"id": "q1", "question": "What fell?", "answers": [{"text": "Rain", "answer_start": answer_start}]}
    return json.dumps({"data": [{"title": "T", "paragraphs": [{"context": context, "qas": [qa], **paragraph}]}]})


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"[]", "the top level is not an object with a data list"),
        (b"null", "the top level is not an object with a data list"),
        (b'{"data": 5}', "the top level is not an object with a data list"),
        (b'{"data": [5]}', "data[0] is not an object"),
        (b'{"data": [{"title": "T"}]}', "data[0] has no paragraphs list"),
        (b'{"data": [{"title": 3, "paragraphs": []}]}', "data[0].title is not text"),
        (_squad(context=5).encode(), "data[0].paragraphs[0].context is not text"),
        (_squad(qas=None).encode(), "data[0].paragraphs[0] has no qas list"),
        (_squad(answer_start="x").encode(), "data[0].paragraphs[0].qas[0].answers[0].answer_start is not a number"),
        (_squad(answer_start=True).encode(), "data[0].paragraphs[0].qas[0].answers[0].answer_start is not a number"),
        # An empty first paragraph: its answers would have pointed into the next one's sentences.
        (
            _squad(context="").encode(),
            "data[0].paragraphs[0].context holds no sentence, yet the paragraph has questions",
        ),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"data": ', "not JSON: Expecting value at line 1 column 10"),
        (b"\xff\xfe{}", "not JSON: not UTF-8 text"),
        (gzip.compress(_squad().encode())[:-12], "a damaged gzip file"),
        (b"\x1f\x8bnot gzip at all", "a damaged gzip file"),
    ],
)
def test_eval_command_names_what_is_wrong_in_a_malformed_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, why: str
) -> None:
    path = tmp_path / "dev.json"
    path.write_bytes(content)
    assert main(["eval", "squad", str(path), "--no-seed-check", "--no-baseline"]) == 2
    assert capsys.readouterr() == (
        "",
        f"qa-bot: {path} is not SQuAD v1.1 JSON ({why}): give the path of dev-v1.1.json(.gz)\n",
    )


def test_eval_command_says_when_the_report_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "squad", str(TINY), "--out", str(tmp_path), "--no-seed-check", "--no-baseline"]) == 2
    err = capsys.readouterr().err
    assert err == f"qa-bot: could not write the report to {tmp_path} (Is a directory)\n"
