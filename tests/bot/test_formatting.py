"""The pure formatting functions: escaping, cutting at word boundaries, and Discord's limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.formatting import (
    EMBED_TOTAL_LIMIT,
    answer_embed,
    citation,
    passage_markdown,
    reload_message,
    shorten,
    shorten_start,
)
from bot.index_holder import ArticleChanges, ReloadReport
from index import Answer, Hit, Skipped
from testkit.discord_harness import Harness, limit_violations, seeds_folder, settings_for


def hit(text: str, before: str = "", after: str = "", **overrides) -> Hit:
    values = {
        "article": "a.txt",
        "title": "A title",
        "date": "2024-01-02",
        "url": None,
        "sentence": 2,
        "text": text,
        "passage": " ".join(p for p in (before, text, after) if p),
        "score": 1.0,
        "confident": True,
        "offset": len(before) + 1 if before else 0,
    }
    values.update(overrides)
    return Hit(**values)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short enough", 20, "short enough"),
        ("the quick brown fox jumps", 15, "the quick…"),
        ("the quick brown fox jumps", 16, "the quick brown…"),
        ("abcdefghijklmnop", 8, "abcdefg…"),
        ("ends with escape\\* here", 18, "ends with…"),
        ("ends with escape\\* here", 19, "ends with escape\\*…"),
        ("huge\\*word", 6, "huge…"),
    ],
)
def test_shorten_cuts_at_a_word_boundary_with_an_ellipsis(text, limit, expected):
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_shorten_start_keeps_the_end():
    assert shorten_start("one two three four", 12) == "…three four"
    assert shorten_start("one two", 10) == "one two"


def test_the_matched_sentence_is_bold_within_its_context():
    h = hit("The harbour reopened.", before="It rained.", after="Boats returned.")
    assert passage_markdown(h, 1024) == "It rained. **The harbour reopened.** Boats returned."


def test_the_bold_sentence_is_the_hit_even_when_its_words_occur_earlier_in_the_passage():
    h = hit("Prices rose.", before="Prices rose. Wages fell.")
    assert passage_markdown(h, 1024) == "Prices rose. Wages fell. **Prices rose.**"


def test_context_is_trimmed_before_the_sentence_and_markdown_is_escaped():
    h = hit("The *harbour* reopened.", before="word " * 50, after="more " * 50)
    text = passage_markdown(h, 80)
    assert len(text) <= 80
    assert "**The \\*harbour\\* reopened.**" in text
    assert text.startswith("…word") and text.endswith("more…")


def test_a_sentence_longer_than_the_room_is_cut_inside_the_bold():
    text = passage_markdown(hit("word " * 100), 50)
    assert text.startswith("**word") and text.endswith("…**") and len(text) <= 50


def test_citation_links_only_web_urls():
    assert citation(hit("x", url="https://e.com/a_(b)")) == (
        "— 2024-01-02 · sentence 2 · [link](https://e.com/a_%28b%29)"
    )
    assert citation(hit("x", url="javascript:alert(1)", date=None)) == "— undated · sentence 2"


def test_short_answer_is_bold_above_the_passages():
    embed = answer_embed(Answer("Who?", (hit("Ann did it."),), short_answer="Ann")).to_dict()
    assert embed["description"] == "**Ann**"
    assert embed["fields"][0]["value"].startswith("**Ann did it.**")


def test_weak_hits_after_a_confident_one_are_marked():
    embed = answer_embed(Answer("Who?", (hit("Ann did it."), hit("Bob too.", confident=False)))).to_dict()
    assert [f["name"] for f in embed["fields"]] == ["1. A title", "2. A title (weak match)"]


def test_reload_message_lists_at_most_ten_names_each():
    report = ReloadReport(
        changes=ArticleChanges(tuple(f"n_{i}.txt" for i in range(12)), (), ("c.txt",)),
        articles=13,
        sentences=1234,
        skipped=(Skipped("bad.txt", "not UTF-8 text"),),
        seconds=0.25,
    )
    assert reload_message(report).split("\n") == [
        "Reloaded in 0.25 s: now 13 articles, 1,234 sentences.",
        "Added (12): " + ", ".join(f"n\\_{i}.txt" for i in range(10)) + " and 2 more",
        "Removed: none",
        "Changed (1): c.txt",
        "Skipped (1): bad.txt (not UTF-8 text)",
    ]


words = st.text(alphabet=st.sampled_from("ab*_~`|>@#<:\\ xyz"), min_size=0, max_size=3000)


@settings(max_examples=150, deadline=None)
@given(
    question=st.text(min_size=1, max_size=600),
    title=st.text(min_size=1, max_size=400),
    parts=st.lists(st.tuples(words, st.text(min_size=1, max_size=2500), words), min_size=1, max_size=25),
    short=st.none() | st.text(max_size=3000),
    confident=st.booleans(),
)
def test_an_answer_embed_is_always_within_discords_limits(question, title, parts, short, confident):
    hits = tuple(
        hit(text, before, after, title=title, url="https://example.com/" + "x" * 200, confident=confident)
        for before, text, after in parts
    )
    embed = answer_embed(Answer(question, hits, short_answer=short))
    assert limit_violations({"embeds": [embed.to_dict()]}) == []
    assert len(embed) <= EMBED_TOTAL_LIMIT


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def test_ask_over_huge_articles_stays_within_the_limits(tmp_path, harness, monkeypatch):
    # Every passage confident, so that five are shown (25 identical sentences tie: none leads, none is confident).
    monkeypatch.setattr("index.ranking.trained.CONFIDENT_AT", 0.0)
    long_sentence = " ".join(["floodwater"] * 400) + "."
    huge = {
        f"huge{n}.txt": f"title: {'Very long headline ' * 30}\nurl: https://example.com/{n}\n\n"
        + " ".join([long_sentence] * 5)
        for n in range(5)
    }
    events = await harness.start(settings_for(seeds_folder(tmp_path, huge)))
    payload = events.command("ask", {"question": "floodwater " * 40, "passages": 5})
    _, answer = await harness.fake.wait_interaction(payload, 2)
    [embed] = answer.body["embeds"]
    assert len(embed["fields"]) == 5
    assert limit_violations(answer.body) == []
    assert all(f["value"].split("\n")[0].endswith("…**") for f in embed["fields"])


def test_the_sources_footer_says_how_far_the_sentence_vectors_are() -> None:
    from bot.formatting import vectors_line

    assert vectors_line(None) == "answers by words only"
    assert vectors_line((1_234, 10_000)) == "meaning for 1,234 of 10,000 sentences so far"
    assert vectors_line((10_000, 10_000)) == "answers by words and meaning"


def test_the_citation_names_the_publisher_when_the_article_does():
    assert citation(hit("x", source="Example News", url="https://e.com/a")) == (
        "— Example News · 2024-01-02 · sentence 2 · [link](https://e.com/a)"
    )


def test_hits_whose_passages_overlap_are_one_field_with_both_sentences_bold_and_the_next_hit_fills_the_room():
    sentences = ("One.", "Two.", "Three.", "Four.", "Five.", "Six.", "Seven.", "Eight.", "Nine.")

    def shown_hit(n: int, first: int, last: int) -> Hit:
        shown = sentences[first - 1 : last]
        offset = sum(len(s) + 1 for s in shown[: n - first])
        return hit(sentences[n - 1], sentence=n, passage=" ".join(shown), offset=offset, first=first, shown=shown)

    hits = (shown_hit(2, 1, 3), shown_hit(3, 2, 4), shown_hit(8, 7, 9), shown_hit(5, 5, 6))
    embed = answer_embed(Answer("Which?", hits), passages=2).to_dict()
    assert [f["value"] for f in embed["fields"]] == [
        "One. **Two.** **Three.** Four.\n— 2024-01-02 · sentences 2 and 3",
        "Seven. **Eight.** Nine.\n— 2024-01-02 · sentence 8",
    ]
    assert [f["name"] for f in embed["fields"]] == ["1. A title", "2. A title"]


def test_the_url_pattern_is_discord_pys_own() -> None:
    """escape_markdown and our bracket encoding must agree on what a URL is (bot/formatting.py)."""
    import discord.utils

    from bot.formatting import URL_PATTERN

    assert URL_PATTERN == discord.utils._URL_REGEX
