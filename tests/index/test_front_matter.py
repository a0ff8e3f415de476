"""YAML front matter (Jekyll, Hugo, newsroom exports): its title, date, url and source are used, the block is
never indexed, and a malformed, oversized or hostile block costs only the metadata, with a logged reason."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

import index.articles.article as articles
from index import build_index, parse_article
from index.articles.article import MAX_FRONT_MATTER_CHARS
from tests.helpers import write_articles

BODY = "Niger has had four coups since independence.\n\nThe junta closed the borders.\n"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("name", ["a.md", "a.txt"])
def test_front_matter_gives_the_metadata_and_is_not_indexed(name: str, caplog: pytest.LogCaptureFixture) -> None:
    text = (
        "---\n"
        'title: "Niger: the junta\'s first week"\n'
        "date: 2023-07-27\n"
        "url: https://example.com/niger\n"
        "source: Example News\n"
        "tags: [niger, coup]\n"
        "---\n"
        f"{BODY}"
    )
    with caplog.at_level(logging.WARNING, logger="index"):
        article = parse_article(name, text.encode())
    assert (article.title, article.date, article.url, article.source) == (
        "Niger: the junta's first week",
        "2023-07-27",
        "https://example.com/niger",
        "Example News",
    )
    assert article.sentences == ("Niger has had four coups since independence.", "The junta closed the borders.")
    assert warnings(caplog) == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2023-07-27", "2023-07-27"),
        ("2023-07-27t10:30:00Z", "2023-07-27T10:30:00+00:00"),  # YAML reads it as a date: shown in ISO form
        ("2023-07-27 10:30:00 +01:00", "2023-07-27T10:30:00+01:00"),
        ("'27 July 2023'", "27 July 2023"),
        ("2023-13-45", "2023-13-45"),  # looks like a date, is not one: kept as written
        ("1984", "1984"),
        ("No", "No"),  # a YAML 1.1 boolean, kept as written
        ("1.10", "1.10"),
    ],
)
def test_values_that_yaml_would_type_are_shown_as_written_and_dates_in_iso_form(value: str, shown: str) -> None:
    article = parse_article("a.md", f"---\ntitle: {value}\ndate: {value}\n---\n{BODY}".encode())
    assert (article.title, article.date) == (shown, shown)


def test_values_that_are_not_text_are_ignored_with_a_logged_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="index"):
        article = parse_article("a.md", f"---\ntitle: [a, b]\ndate: {{y: 1}}\nsource: ~\n---\n{BODY}".encode())
    assert (article.title, article.date, article.source) == ("Niger has had four coups since independence.", None, None)
    assert warnings(caplog) == [
        "Front matter of a.md: title is a list, not text: ignored",
        "Front matter of a.md: date is a mapping, not text: ignored",
    ]


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        ("title: [unclosed\n", "not valid YAML (did not find expected ',' or ']' at line 3): ignored"),
        (
            "title: a\n  bad: indent\n",
            "not valid YAML (mapping values are not allowed in this context at line 3): ignored",
        ),
        ("- just\n- a list\n", "not a list of name: value fields: ignored"),
        ("title: \x1b[2J\n", "not valid YAML (it holds a control character): ignored"),
        ("x: " + "[" * 5_000 + "\n", "not valid YAML (exceeded maximum nesting depth at line 2): ignored"),
        (
            "title: x\n" + "#" * MAX_FRONT_MATTER_CHARS + "\n",
            f"{MAX_FRONT_MATTER_CHARS + 10:,} characters, over the limit of {MAX_FRONT_MATTER_CHARS:,}: ignored",
        ),
    ],
)
def test_a_malformed_block_is_skipped_as_metadata_and_the_body_is_indexed(
    block: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="index"):
        article = parse_article("bad.md", f"---\n{block}---\n{BODY}".encode())
    assert article.title == "Niger has had four coups since independence."
    assert article.sentences == ("Niger has had four coups since independence.", "The junta closed the borders.")
    assert warnings(caplog) == [f"Front matter of bad.md: {reason}"]


@pytest.mark.slow
def test_pyyamls_own_parser_refuses_deep_nesting_too(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Where PyYAML was built without libyaml, its Python parser recurses once per level.
    monkeypatch.setattr(articles, "_YAML_LOADER", yaml.SafeLoader)
    with caplog.at_level(logging.WARNING, logger="index"):
        article = parse_article("deep.md", f"---\nx: {'[' * 5_000}\n---\n{BODY}".encode())
    assert article.sentences[0] == "Niger has had four coups since independence."
    assert warnings(caplog) == ["Front matter of deep.md: nested too deeply: ignored"]


def test_aliases_are_never_expanded(caplog: pytest.LogCaptureFixture) -> None:
    # "Billion laughs": nine levels of nine aliases would be 9**9 strings if anything walked them.
    levels = ['a0: &a0 "lol"'] + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    block = "\n".join(levels) + "\ntitle: *a9\nsource: *a0\n"
    with caplog.at_level(logging.WARNING, logger="index"):
        article = parse_article("laughs.md", f"---\n{block}---\n{BODY}".encode())
    assert (article.title, article.source) == ("Niger has had four coups since independence.", "lol")
    assert warnings(caplog) == ["Front matter of laughs.md: title is a list, not text: ignored"]


def test_without_a_closing_line_it_is_not_front_matter() -> None:
    article = parse_article("a.md", f"---\ntitle: x\n\n{BODY}".encode())
    # As Markdown shows it, as Jekyll would: a rule, then a short line, which is the title as in a text file.
    assert (article.title, article.sentences[0]) == ("title: x", "Niger has had four coups since independence.")
    article = parse_article("a.txt", f"---\ntitle: x\n\n{BODY}".encode())
    assert article.sentences[0] == "--- title: x"  # a text file is indexed as written


def test_front_matter_problems_are_logged_when_worker_processes_parse(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seeds = write_articles(tmp_path, {f"{n}.md": f"---\ntitle: [x\n---\nArticle {n} is here.\n" for n in range(3)})
    with caplog.at_level(logging.WARNING, logger="index"):
        index, _ = build_index(seeds, use_cache=False, workers=2)
    assert [a.title for a in index.articles] == ["Article 0 is here.", "Article 1 is here.", "Article 2 is here."]
    assert sorted(warnings(caplog)) == [
        f"Front matter of {n}.md: not valid YAML (did not find expected ',' or ']' at line 3): ignored"
        for n in range(3)
    ]
