"""A Markdown article as plain text: what a reader sees, without the syntax that marks it up.

Parsed by markdown-it-py (CommonMark, with tables and strikethrough), never by regular expressions: emphasis
inside a word, a `*` that is only a star, a link whose text holds brackets or code that shows a `#` are read
as Markdown reads them. Every block (heading, paragraph, list item, table row, quotation, code) becomes a
paragraph of its own, so sentences never run across two of them; raw HTML blocks and images are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token


@dataclass(frozen=True)
class MarkdownText:
    heading: str | None  # the first block's text when that block is a heading (the article's title, often)
    paragraphs: tuple[str, ...]  # every block's text, the heading included


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _inline_text(children: list[Token]) -> str:
    # Link and emphasis marks are tokens of their own, around the text; an image (its alt text among its own
    # children) and inline HTML are not the article's words.
    parts: list[str] = []
    for token in children:
        if token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def markdown_text(source: str) -> MarkdownText:
    """The text of each block of `source`, in order, and the first block's when it is a heading."""
    tokens = _parser().parse(source)
    paragraphs: list[str] = []
    heading: str | None = None
    row: list[str] = []
    in_heading = in_cell = False
    for n, token in enumerate(tokens):
        kind = token.type
        if kind == "heading_open":
            in_heading = True
        elif kind == "heading_close":
            in_heading = False
        elif kind in ("th_open", "td_open"):
            in_cell = True
        elif kind in ("th_close", "td_close"):
            in_cell = False
        elif kind == "tr_close":
            if any(row):
                paragraphs.append(" · ".join(cell for cell in row if cell))
            row = []
        elif kind == "inline":
            text = _inline_text(token.children or [])
            if in_cell:
                row.append(text)
            elif text:
                if in_heading and not paragraphs and n <= 1:
                    heading = text
                paragraphs.append(text)
        elif kind in ("fence", "code_block"):
            code = " ".join(token.content.split())
            if code:
                paragraphs.append(code)
        # html_block is raw HTML: a comment, a widget, an embed; not the article's prose.
    return MarkdownText(heading, tuple(paragraphs))
