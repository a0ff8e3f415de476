"""Follow-up questions measured: two-turn dialogues over the seed article and SQuAD paragraphs (tests/data).
The shares asserted are those reached when the dialogues were written, so a change that loses any fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from index import SearchIndex
from index.evaluation.dialogues import Dialogue, dialogue_index, evaluate_dialogues, gold

ROOT = Path(__file__).parent.parent.parent
DIALOGUES = Path(__file__).parent.parent / "data" / "dialogues.json"


@pytest.fixture(scope="module")
def indexed() -> tuple[SearchIndex, list[Dialogue]]:
    return dialogue_index(DIALOGUES, ROOT / "seeds")


def test_there_are_at_least_40_dialogues_each_with_one_answering_sentence(indexed):
    index, dialogues = indexed
    assert len(dialogues) == 51
    assert sum(d.article == "000_eed0d9b0ce39977c.txt" for d in dialogues) == 16
    assert len(index.articles) == 1 + 44
    for dialogue in dialogues:
        assert len(gold(index, dialogue)) == 1, dialogue


def test_the_first_question_as_context_answers_more_second_questions(indexed):
    index, dialogues = indexed
    report = evaluate_dialogues(index, dialogues)
    assert report.dialogues == 51
    # By words alone (docs/quality.md has the figures with sentence vectors).
    assert (report.alone_right, report.conversation_right, report.context_right) == (37, 45, 45)
    assert report.followed_up == 48


def test_a_context_at_full_weight_drowns_the_question(indexed):
    index, dialogues = indexed
    assert evaluate_dialogues(index, dialogues, context_weight=1.0).context_right < 45


@pytest.mark.slow
def test_the_command_prints_the_table(capsys):
    assert main(["eval", "dialogues", str(DIALOGUES), "--seeds", str(ROOT / "seeds")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["all (51 dialogues):", "| second question asked | R@1 |", "|---|---|"]
    assert lines[3].startswith("| alone (no context) | ")
    assert [line.split(" (")[0] for line in lines if line.endswith("dialogues):")] == [
        "all",
        "seed article",
        "SQuAD paragraphs",
    ]


def test_the_command_refuses_a_file_that_is_not_dialogues(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{}")
    assert main(["eval", "dialogues", str(tmp_path / "x.json"), "--seeds", str(ROOT / "seeds")]) == 2
    assert "is not a dialogue file" in capsys.readouterr().err


ONE_ARTICLE = [{"id": "a", "title": "A", "text": "One sentence here. Two."}]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            json.dumps(
                {"articles": ONE_ARTICLE, "dialogues": [{"article": "nope", "turns": ["a", "b"], "evidence": "One"}]}
            ),
            "dialogues[0] names the article 'nope', which is neither in the file nor in the seeds folder",
        ),
        (
            json.dumps(
                {"articles": ONE_ARTICLE, "dialogues": [{"article": "a", "turns": ["a", "b"], "evidence": "Three"}]}
            ),
            "no sentence of a holds 'Three'",
        ),
    ],
)
def test_the_command_names_what_is_wrong_in_one_line(tmp_path, capsys, content, why):
    path = tmp_path / "x.json"
    path.write_text(content)
    assert main(["eval", "dialogues", str(path), "--seeds", str(ROOT / "seeds")]) == 2
    assert capsys.readouterr() == (
        "",
        f"qa-bot: {path} is not a dialogue file ({why}); see tests/data/dialogues.json\n",
    )
