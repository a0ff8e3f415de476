"""Every rendered reply stays within Discord's limits and pings nobody, whatever the text in it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tests.hypothesis_profile  # noqa: F401  (loads the suite's hypothesis settings)
from bot.formatting import (
    CHOICE_NAME_LIMIT,
    answer_embed,
    choice_name,
    cooldown_message,
    escape,
    help_embed,
    reload_message,
    shorten,
    shorten_start,
    sources_embed,
)
from bot.index_holder import ArticleChanges, ReloadReport
from index import Answer, Article, Hit, Skipped, parse_article
from index.articles.article import UnusableArticle
from testkit.discord_harness import limit_violations

# Mentions, markdown, zero-width and direction marks, emoji and other scripts are likelier than in plain text().
HOSTILE = st.sampled_from(
    ["@everyone", "@here", "<@123456789012345678>", "<@&123456789012345678>", "<@!123456789012345678>",
     "```", "`", "**", "__", "~~", "||", "> ", "# ", "[x](https://e.test)", "\\", "\u200b", "\u202e", "🇳🇪",
     "🤔", "Нигер", "نيجر", "ניז׳ר", "尼日尔", " ", "\n", "…", "https://example.com/a b"]
)  # fmt: skip
hostile_text = st.lists(st.one_of(st.text(max_size=20), HOSTILE), max_size=12).map("".join)
# Long text cheaply: hostile text repeated, up to tens of thousands of characters.
long_text = st.one_of(hostile_text, st.builds(lambda s, n: (s or "w ") * n, hostile_text, st.integers(2, 150)))
maybe_url = st.one_of(st.none(), hostile_text, st.just("https://example.com/" + "x" * 3_000))
# What would ping if it reached a message's content unescaped.
PING = re.compile(r"@(everyone|here)|<@[!&]?\d{17,20}>")


@st.composite
def hits(draw: st.DrawFn) -> Hit:
    before, text, after = draw(hostile_text), draw(long_text), draw(hostile_text)
    passage, offset = draw(st.sampled_from([(f"{before} {text} {after}", len(before) + 1), (text, 0), (before, 0)]))
    return Hit(
        article=draw(hostile_text),
        title=draw(long_text),
        date=draw(st.one_of(st.none(), hostile_text)),
        url=draw(maybe_url),
        sentence=draw(st.integers(1, 10**6)),
        text=text,
        passage=passage,  # the text may be missing from it
        score=draw(st.floats(allow_nan=False)),
        confident=draw(st.booleans()),
        offset=offset,
    )


@st.composite
def articles(draw: st.DrawFn) -> Article:
    """Articles as the parser makes them from any file: headers and body of hostile text."""
    line = hostile_text.map(lambda t: t.replace("\n", " ").replace("\r", " "))
    headers = "".join(f"{name}: {draw(line)}\n" for name in ("title", "date", "url") if draw(st.booleans()))
    body = draw(st.builds(lambda s, n: (s or "w ") * n, hostile_text, st.integers(1, 40)))
    text = headers + "\n" + body
    try:
        return parse_article(draw(hostile_text), text.encode("utf-8", "surrogatepass"))
    except UnusableArticle:
        assume(False)
        raise


def rendered(message: dict[str, Any]) -> str:
    """Every piece of text a message shows; also proves it serialises as discord.py sends it."""
    return json.dumps(message, ensure_ascii=False)


def assert_sendable(message: dict[str, Any]) -> None:
    assert limit_violations(message) == []
    assert not PING.search(rendered(message))


@pytest.mark.slow
@settings(max_examples=50)
@given(question=long_text, answer_hits=st.lists(hits(), max_size=8), short=st.one_of(st.none(), long_text))
def test_any_answer_renders_within_the_limits_and_pings_nobody(
    question: str, answer_hits: list[Hit], short: str | None
) -> None:
    embed = answer_embed(Answer(question, tuple(answer_hits), short_answer=short))
    assert_sendable({"embeds": [embed.to_dict()]})


@settings(max_examples=50)
@given(
    names=st.lists(hostile_text, max_size=30),
    skipped=st.lists(st.builds(Skipped, hostile_text, long_text), max_size=15),
    error=st.one_of(st.none(), long_text),
    counts=st.tuples(st.integers(0, 10**9), st.integers(0, 10**12), st.floats(0, 10**6)),
)
@pytest.mark.slow
def test_any_reload_report_renders_within_the_limits_and_pings_nobody(
    names: list[str], skipped: list[Skipped], error: str | None, counts: tuple[int, int, float]
) -> None:
    third = len(names) // 3
    changes = ArticleChanges(tuple(names[:third]), tuple(names[third : 2 * third]), tuple(names[2 * third :]))
    report = ReloadReport(changes, counts[0], counts[1], tuple(skipped), counts[2], error)
    assert_sendable({"content": reload_message(report)})


@pytest.mark.slow
@settings(max_examples=40)
@given(listed=st.lists(articles(), max_size=12), page=st.integers(-2, 3))
def test_any_sources_page_renders_within_the_limits_and_pings_nobody(listed: list[Article], page: int) -> None:
    assert_sendable({"embeds": [sources_embed(listed, page).to_dict()]})


@pytest.mark.slow
@given(article=articles())
def test_any_autocomplete_choice_name_fits(article: Article) -> None:
    assert 1 <= len(choice_name(article)) <= CHOICE_NAME_LIMIT


@given(seconds=st.floats(0, 10**7), wait=st.floats(0, 10**7))
def test_help_and_cooldown_replies_fit(seconds: float, wait: float) -> None:
    assert_sendable({"embeds": [help_embed(seconds).to_dict()], "content": cooldown_message(wait)})


# -- masked links: article text must never render as [label](url)

LINKY = st.sampled_from(
    ["[", "]", "(", ")", "](", "[x](https://evil.test)", "https://a/", "http://b", "<", ">", "\\", " ", "_", "*", "x"]
)
linky_text = st.lists(st.one_of(LINKY, st.text(max_size=3)), max_size=25).map("".join)
# Our own citation link, the last thing in a field's value.
OWN_LINK = re.compile(r" · \[link\]\(https?://[^\s()]+\)$")


def unescaped_brackets(text: str) -> list[int]:
    """Where a "[" could open a masked link: not preceded by an odd run of backslashes (an escape)."""
    found = []
    for at, char in enumerate(text):
        if char == "[":
            backslashes = len(text[:at]) - len(text[:at].rstrip("\\"))
            if backslashes % 2 == 0:
                found.append(at)
    return found


@pytest.mark.parametrize(
    "text",
    [
        "https://a/[x](https://evil)",  # discord.py leaves what looks like a URL alone
        "[a](https://b) [x](https://evil)",  # its pattern is greedy: it escapes only the first "["
        "<https://a/[x](https://evil)>",
        "see \\[x](https://evil)",
    ],
)
def test_article_text_never_renders_as_a_masked_link(text: str) -> None:
    assert unescaped_brackets(escape(text)) == []


def test_a_url_keeps_working_with_its_brackets_encoded() -> None:
    assert escape("see https://a/[x](https://evil) now") == "see https://a/%5Bx%5D(https://evil) now"
    assert escape("https://example.com/a_b?q=1") == "https://example.com/a_b?q=1"


@given(text=linky_text)
def test_no_escaped_text_can_open_a_masked_link(text: str) -> None:
    assert unescaped_brackets(escape(text)) == []


@settings(max_examples=60)
@given(
    question=linky_text,
    texts=st.lists(st.tuples(linky_text, linky_text, linky_text), min_size=1, max_size=4),
    limit=st.sampled_from([None, 40, 9]),
)
def test_no_answer_shows_a_masked_link_but_its_citation(
    question: str, texts: list[tuple[str, str, str]], limit: int | None
) -> None:
    answer_hits = tuple(
        Hit(
            "a.txt", title, None, "https://e.test/a", 1, text, f"{title} {text} {title}" * 30, 1.0, True, len(title) + 1
        )
        for title, text, _ in texts
    )
    embed = answer_embed(Answer(question, answer_hits, short_answer=texts[0][2] or None)).to_dict()
    values = [OWN_LINK.sub("", field["value"]) for field in embed["fields"]]
    shown = [embed["title"], embed.get("description") or "", *(f["name"] for f in embed["fields"]), *values]
    assert [s for s in shown if unescaped_brackets(s)] == []


def test_keeping_the_end_of_a_long_word_keeps_the_escape_before_a_bracket() -> None:
    escaped = escape("a" * 20 + "[x](https://evil.test/bbbbb)")
    assert [n for n in range(60) if unescaped_brackets(shorten_start(escaped, n))] == []


@given(text=linky_text, limit=st.integers(0, 60))
def test_shortening_escaped_text_never_drops_an_escape(text: str, limit: int) -> None:
    escaped = escape(text * 3)
    assert unescaped_brackets(shorten(escaped, limit)) == []
    assert unescaped_brackets(shorten_start(escaped, limit)) == []
