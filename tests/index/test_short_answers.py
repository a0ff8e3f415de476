"""The short-answer models used with sentence vectors (index/answers/short_answers.py)."""

from __future__ import annotations

import math
import re

import pytest

from index.answers.short_answer_weights import SHOW_THRESHOLD, SHOW_WEIGHTS, SPAN_WEIGHTS
from index.answers.short_answers import choose, expected_f1, linear, question_class, spans, trusted_short_answer
from index.ranking.answer_types import AnswerType


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("How many coups?", "count"),
        ("What percentage of voters stayed home?", "count"),
        ("How long is the Loire?", "measure"),
        ("When did Niger become independent?", "date"),
        ("In what year did the war end?", "date"),
        ("Whose army marched?", "who"),
        ("Where is the source of the Loire?", "where"),
        ("What drama debuted on ABC?", "what_noun"),
        ("What did Blinken promise?", "what_verb"),
        ("Which sea does the Rhine reach?", "which_noun"),
        ("Why was France reprimanded?", "other"),
        ("Coups in Niger", "other"),
    ],
)
def test_what_a_question_asks_for(question: str, asked: str) -> None:
    assert question_class(question)[0] == asked


def test_the_head_is_the_first_search_word_after_the_question_word() -> None:
    assert question_class("Who is mediating for Ecowas?") == ("who", "mediat")
    assert question_class("Coups in Niger") == ("other", None)


def test_spans_are_numbers_dates_and_names_not_named_by_the_question() -> None:
    sentence = "Mohamed Bazoum was elected in 2021 and Niger has had four coups."
    found = {(s.text, s.kind) for s in spans("Who did Niger elect?", sentence)}
    # "Niger" is named by the question, so it is no answer; "Mohamed Bazoum" is.
    assert found == {("Mohamed Bazoum", AnswerType.NAME), ("2021", AnswerType.DATE), ("four", AnswerType.NUMBER)}


def test_span_features_say_what_is_asked_and_where_the_span_stands() -> None:
    [four] = [s for s in spans("How many coups?", "Niger has had four coups since 1960.") if s.text == "four"]
    assert four.features["countxNUMBER"] == 1.0
    assert four.features["adjacent"] == 1.0  # "coups" follows it
    assert four.features["question_words_right"] == 1.0 and four.features["question_words_left"] == 0.0
    assert four.features["one_of"] == 1.0  # the only number ("1960" is a date)


def test_a_sentence_without_any_span_has_no_short_answer() -> None:
    assert choose("How many coups?", "there were coups, and more were attempted.", math.inf) is None
    assert trusted_short_answer("How many coups?", "there were coups, and more were attempted.", math.inf) is None


def test_the_span_model_prefers_the_number_next_to_the_question_words() -> None:
    sentence = "In 2010, 40 soldiers took part, and the country has seen four coups since independence."
    choice = choose("How many coups has the country seen?", sentence, 3.0)
    assert choice is not None and choice.span.text == "four"


def test_a_short_answer_is_shown_only_when_its_estimate_clears_the_threshold() -> None:
    choice = choose("How many coups?", "Niger has had four coups since 1960.", 3.0)
    assert choice is not None
    assert expected_f1(choice) == pytest.approx(1 / (1 + math.exp(-linear(SHOW_WEIGHTS, choice.features))))
    assert expected_f1(choice) >= SHOW_THRESHOLD
    assert trusted_short_answer("How many coups?", "Niger has had four coups since 1960.", 3.0) == "four"
    # A "how long" answer needs its unit ("1,006 kilometres"): a bare number is right too rarely to be shown.
    loire = choose("How long is the Loire?", "It flows for 1,006 kilometres.", 3.0)
    assert loire is not None and loire.span.text == "1,006" and expected_f1(loire) < SHOW_THRESHOLD
    assert trusted_short_answer("How long is the Loire?", "It flows for 1,006 kilometres.", 3.0) is None


def test_a_clear_lead_over_the_second_hit_raises_the_estimate() -> None:
    sentence = "Niger has had four coups since 1960."
    close, clear = (choose("How many coups?", sentence, lead) for lead in (0.0, 3.0))
    assert close is not None and clear is not None
    assert SHOW_WEIGHTS["lead"] > 0 and expected_f1(clear) > expected_f1(close)


def test_every_weight_names_a_feature_the_code_makes() -> None:
    """A weight for a feature that is never made (a renamed feature, a stale file) would silently weigh 0."""
    asked = "count|measure|date|who|where|what_noun|what_verb|which_noun|which_verb|other"
    kinds = "|".join(k.name for k in AnswerType)
    span_names = re.compile(
        rf"(?:{asked})x(?:{kinds})(?:_near|_inv_d)?|(?:after_place_word|head_after|head_before)_(?:{asked})"
        r"|inv_d|log_d|adjacent|near|question_words_left|question_words_right|overlap|one_of|length|one_word"
        r"|after_place_word|opens_sentence|question_words|in_brackets|before_lower_case|possessive|bias"
    )
    show_names = re.compile(
        rf"asks_(?:{asked})|kind_(?:{kinds})|span_score|margin|lead|question_words_held|spans|near|inv_d|bias"
    )
    assert [n for n in SPAN_WEIGHTS if not span_names.fullmatch(n)] == []
    assert [n for n in SHOW_WEIGHTS if not show_names.fullmatch(n)] == []
    assert 0.5 < SHOW_THRESHOLD < 1
