"""Markdown articles are indexed as the text a reader sees: no heading, emphasis, list or link syntax."""

from __future__ import annotations

from index import build_index, parse_article
from index.articles.markdown_text import markdown_text
from tests.helpers import write_articles

POST = """---
title: Council approves the new bridge
date: 2024-05-02
source: Valley Courier
---
# Council approves the new bridge

The council voted *7 to 2* on [Tuesday](https://example.com/vote "the vote") to fund the **new** bridge.

## Who backed it

- **Jane Doe**, the mayor, said the bridge_over_the_river plan was "overdue".
- Cost: 2 million, paid over `ten` years
  by the county.

1. Work starts in June.
2. It ends in 2026.

> The old bridge is unsafe, the engineers said.

| Item | Cost |
|---|---|
| Steel | 1.2m |

![A photo of the river](river.jpg)

<div class="advert">Subscribe now</div>

A sum of 5 * 3 and \\*literal stars\\* stay as written.
"""

SENTENCES = (
    "The council voted 7 to 2 on Tuesday to fund the new bridge.",
    "Who backed it",
    'Jane Doe, the mayor, said the bridge_over_the_river plan was "overdue".',
    "Cost: 2 million, paid over ten years by the county.",
    "Work starts in June.",
    "It ends in 2026.",
    "The old bridge is unsafe, the engineers said.",
    "Item · Cost",
    "Steel · 1.2m",
    "A sum of 5 * 3 and *literal stars* stay as written.",
)


def test_a_markdown_article_is_indexed_without_its_markup_and_without_repeating_its_title():
    article = parse_article("bridge.md", POST.encode())
    assert (article.title, article.date, article.source) == (
        "Council approves the new bridge",
        "2024-05-02",
        "Valley Courier",
    )
    assert article.sentences == SENTENCES


def test_the_first_heading_is_the_title_when_none_is_given_and_is_not_a_sentence():
    article = parse_article("a.md", b"# Floods *close* the valley road\n\nThe road is shut. Detours are signed.\n")
    assert article.title == "Floods close the valley road"
    assert article.sentences == ("The road is shut.", "Detours are signed.")


def test_a_text_file_keeps_its_stars_and_hashes():
    article = parse_article("a.txt", b"title: T\n\nA **bold** claim and # hash.\n")
    assert article.sentences == ("A **bold** claim and # hash.",)


def test_blocks_never_run_into_one_sentence():
    parsed = markdown_text("# Heading without a stop\nA paragraph right under it\n\n- item one\n- item two\n")
    assert parsed.heading == "Heading without a stop"
    assert parsed.paragraphs == ("Heading without a stop", "A paragraph right under it", "item one", "item two")


def test_answers_from_a_markdown_article_hold_no_markdown_syntax(tmp_path):
    index, _ = build_index(write_articles(tmp_path, {"bridge.md": POST}), use_cache=False)
    for question in ("Who is Jane Doe?", "How much does it cost?", "When does work start?", "How did the vote go?"):
        for hit in index.ask(question, 3).hits:
            for syntax in ("**", "](", "- **", "# ", "`", "<div", "!["):
                assert syntax not in hit.passage, (question, hit.passage)
