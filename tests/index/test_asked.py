"""What a question asks for and names, read once (index/ranking/asked.py)."""

from __future__ import annotations

import pytest

from index.ranking.asked import AnswerType, Asked, analyse


@pytest.mark.parametrize(
    ("question", "asked", "short_class", "head"),
    [
        ("How many coups?", Asked.COUNT, "count", "coup"),
        ("What is the population of Niger?", Asked.COUNT, "count", "popul"),
        ("In what year did Niger become independent?", Asked.DATE, "date", "year"),
        ("Who is in charge?", Asked.WHO, "who", "charg"),
        ("Where is Bazoum being held?", Asked.WHERE, "where", "bazoum"),
        ("What did Blinken promise?", Asked.WHAT_VERB, "what_verb", "blinken"),
        ("Which party headquarters was attacked?", Asked.WHICH_NOUN, "which_noun", "parti"),
        ("How tall is the Eiffel Tower?", Asked.MEASURE, "other", "tall"),
        ("Why did the soldiers seize power?", Asked.REASON, "other", "soldier"),
        ("What caused the coup?", Asked.REASON, "what_noun", "caus"),
        ("What reason did the junta give?", Asked.REASON, "what_noun", "reason"),
        ("Is Russia behind the coup?", Asked.YES_NO, "other", None),
        ("Did anyone die?", Asked.YES_NO, "other", None),
        ("Tell me about the coup", Asked.OTHER, "other", None),
    ],
)
def test_one_reading_of_what_is_asked(question: str, asked: Asked, short_class: str, head: str | None) -> None:
    found = analyse(question)
    assert (found.asked, found.short_class, found.head) == (asked, short_class, head)


def test_what_a_sentence_must_hold_follows_from_what_is_asked() -> None:
    assert analyse("How many coups?").required is AnswerType.NUMBER
    assert analyse("How long has he been president?").expected is AnswerType.NUMBER
    assert analyse("How long has he been president?").short_type is None
    assert analyse("Where is Niamey?").expected is AnswerType.NAME
    assert analyse("Where is Niamey?").required is None
    assert analyse("Why did they protest?").expected is None


def test_names_are_runs_of_capitalised_words_and_numbers_as_search_terms() -> None:
    assert analyse("What did Nigeria's president Bola Tinubu say?").names == (("nigeria",), ("bola", "tinubu"))
    assert analyse("What did the African Union say about the coup?").names == (("african", "union"),)
    assert analyse("Name the University of Chicago's founder").names == (("universiti", "chicago"),)
    assert analyse("What happened in 1960 to the Nigeriens?").names == (("1960",), ("niger",))
    assert analyse("how many coups has niger had").names == ()
