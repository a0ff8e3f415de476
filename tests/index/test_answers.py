"""Question typing and short answers, on hand-made sentences."""

from __future__ import annotations

import pytest

from index.ranking.answer_types import AnswerType, Candidate, candidates, expected_type, question_type, short_answer

SENTENCE = (
    "Benin’s President Patrice Talon met 3,000 protesters and four ministers on 26 July 2023 in Niamey, two years ago."
)


@pytest.mark.parametrize(
    ("question", "short", "ranking"),
    [
        ("How many coups?", AnswerType.NUMBER, AnswerType.NUMBER),
        ("how much did it cost?", AnswerType.NUMBER, AnswerType.NUMBER),
        ("What percentage of voters stayed home?", AnswerType.NUMBER, AnswerType.NUMBER),
        ("When did it start?", AnswerType.DATE, AnswerType.DATE),
        ("In what year was he born?", AnswerType.DATE, AnswerType.DATE),
        ("Who is in charge?", AnswerType.NAME, AnswerType.NAME),
        ("Whose flag was it?", AnswerType.NAME, AnswerType.NAME),
        ("Who was president when the war began?", AnswerType.NAME, AnswerType.NAME),
        ("When did the man who founded it die?", AnswerType.DATE, AnswerType.DATE),
        ("How long is the river?", None, AnswerType.NUMBER),
        ("Where is Niamey?", None, AnswerType.NAME),
        ("What is the capital?", None, None),
        ("Why did they protest?", None, None),
    ],
)
def test_question_types(question: str, short: AnswerType | None, ranking: AnswerType | None) -> None:
    assert question_type(question) is short
    assert expected_type(question) is ranking


def test_number_candidates_skip_numbers_inside_dates() -> None:
    assert candidates(SENTENCE, AnswerType.NUMBER) == [Candidate("3,000", 36, 41), Candidate("four", 57, 61)]


def test_date_candidates() -> None:
    assert [c.text for c in candidates(SENTENCE, AnswerType.DATE)] == ["26 July 2023", "two years ago"]
    assert [
        c.text
        for c in candidates("It was built in the 1960s, by the 18th century, on Thursday morning.", AnswerType.DATE)
    ] == [
        "1960s",
        "18th century",
        "Thursday morning",
    ]


def test_name_candidates_leave_out_places_after_prepositions_and_lone_opening_capitals() -> None:
    assert [c.text for c in candidates(SENTENCE, AnswerType.NAME)] == ["Benin’s President Patrice Talon"]
    assert candidates("Trouble began when troops took him captive.", AnswerType.NAME) == []
    assert [c.text for c in candidates("The University of Chicago hired Enrico Fermi.", AnswerType.NAME)] == [
        "University of Chicago",
        "Enrico Fermi",
    ]


@pytest.mark.parametrize(
    ("question", "sentence", "answer"),
    [
        (
            "How many coups has Niger had?",
            "Niger has had four coups since independence in 1960, and 12 attempts.",
            "four",
        ),
        ("When did Niger become independent?", "Niger has had four coups since independence in 1960.", "1960"),
        ("Who met the protesters?", SENTENCE, "Benin’s President Patrice Talon"),
        # The nearest candidate to the question's words wins.
        ("How many attempts were there?", "Niger has had four coups and 12 attempts.", "12"),
        # What the question names is not its answer.
        ("Who called Bazoum?", "Antony Blinken called Bazoum.", "Antony Blinken"),
        ("Who is in charge?", "It is not clear who is in charge of Niger.", None),
        ("Who took him captive?", "Trouble began when troops took him captive.", None),
        ("Why did they protest?", "They protested in 1960.", None),
    ],
)
def test_short_answer(question: str, sentence: str, answer: str | None) -> None:
    assert short_answer(question, sentence) == answer
