"""The saved index is keyed by version constants, not by hashing source files: each test here pins one
stage's output on a sample, for its version. Changing what a stage outputs fails its test until the
version is bumped and the new output pinned under the new number (keep the old entries: a version's
output never changes), so a forgotten bump cannot reuse an index made by other code after a deploy."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import index.articles.article as article_module
import index.articles.text as text_module
import index.storage.bm25 as bm25_module
import index.storage.passages as passages_module
import index.storage.store as store_module
from index.articles.article import parse_article
from index.articles.text import split_sentences, tokenize, tokenize_question
from index.storage.bm25 import DEFAULT_PARAMS, Bm25
from index.storage.build import SourceFiles, content_key
from index.storage.passages import count_tokens_each
from tests.helpers import SEEDS

SEED_FILE = sorted(SEEDS.glob("*.txt"))[0]
SAMPLE = (
    "“We’re not leaving,” said Dr. O’Neill on 3 Aug. 2023 — 1,500 people (12.5%) stayed in São Paulo's "
    "north-east! Was it the U.N.’s call? Running, runners and ran: the stemmer's cases; e-mail me@example.com.\n\n"
    "A second paragraph without an end"
)
QUESTIONS = ("How many coups has Niger had?", "Who is in charge?", "What did ECOWAS say about the junta's plan?")


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()[:16]


def seed_sentences() -> tuple[str, ...]:
    return tuple(parse_article(SEED_FILE.name, SEED_FILE.read_bytes()).sentences)


# What each version outputs on the samples; add a line when a version is bumped.
TOKENIZER_OUTPUT = {1: "2c171d8d35fa8079", 2: "2297e5ebc45d8852"}  # 2: countries and their demonyms one term
ARTICLE_OUTPUT = {1: "18bbff8ae64b50da", 2: "4e9d03638b6444a1"}  # 2: Markdown read as Markdown (a sample added)
BM25_OUTPUT = {1: "7c7932c63d17c51c"}
BUDGET_OUTPUT = {1: "a60453dfe59ba388"}


def test_the_tokenizer_outputs_what_its_version_pinned() -> None:
    sentences = split_sentences(SAMPLE)
    assert sentences[:2] == ["“We’re not leaving,” said Dr. O’Neill on 3 Aug. 2023 — 1,500 people (12.5%) stayed "
                             "in São Paulo's north-east!", "Was it the U.N.’s call?"]  # fmt: skip
    assert tokenize(sentences[1]) == ["u", "n", "s", "call"]
    output = [
        sentences,
        [tokenize(s) for s in sentences],
        [tokenize_question(q) for q in QUESTIONS],
        [tokenize(s) for s in seed_sentences()],
    ]
    assert TOKENIZER_OUTPUT[text_module.TOKENIZER_VERSION] == digest(output)


def test_an_article_is_parsed_as_its_version_pinned() -> None:
    headed = parse_article(
        "x/headed.md",
        b"title: Floods\ndate: 2024-03-02\nurl: https://example.com/f\nsource: Wire\n\n" + SAMPLE.encode(),
    )
    front = parse_article("front.md", b"---\ntitle: 'Front: matter'\ndate: 2024-03-02\n---\n" + SAMPLE.encode())
    seed = parse_article(SEED_FILE.name, SEED_FILE.read_bytes())
    marked = parse_article(
        "marked.md", b"# A *heading*\n\nSome **bold** text and a [link](https://x.example/).\n\n- one\n"
    )
    assert (headed.id, headed.title, headed.date, headed.url, headed.source) == (
        "x/headed.md", "Floods", "2024-03-02", "https://example.com/f", "Wire"
    )  # fmt: skip
    assert (marked.title, marked.sentences) == ("A heading", ("Some bold text and a link.", "one"))  # since 2
    articles = (headed, front, seed, marked)
    output = [[a.id, a.title, a.date, a.url, a.source, list(a.sentences), a.digest] for a in articles]
    assert ARTICLE_OUTPUT[article_module.ARTICLE_VERSION] == digest(output)


def test_bm25_weighs_as_its_version_pinned() -> None:
    # Tokens of its own (not the tokenizer's, which has a version of its own): only BM25 decides this output.
    built = Bm25.from_tokens([s.lower().split() for s in seed_sentences()], DEFAULT_PARAMS)
    output = [np.round(built.idf, 9).tolist(), np.round(built.data, 9).tolist(), built.indptr.tolist()]
    assert BM25_OUTPUT[bm25_module.BM25_VERSION] == digest(output)


def test_passage_budget_tokens_are_counted_as_their_version_pinned() -> None:
    output = count_tokens_each([*split_sentences(SAMPLE), *seed_sentences()]).tolist()
    assert BUDGET_OUTPUT[passages_module.BUDGET_VERSION] == digest(output)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (store_module, "FORMAT_VERSION"),
        (article_module, "ARTICLE_VERSION"),
        (text_module, "TOKENIZER_VERSION"),
        (bm25_module, "BM25_VERSION"),
        (passages_module, "BUDGET_VERSION"),
    ],
)
def test_each_version_is_in_the_saved_index_key(module: object, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    files = SourceFiles()
    files.add("a.txt", b"Some text.", "0" * 64, None)
    before = content_key(files, DEFAULT_PARAMS)
    monkeypatch.setattr(module, name, getattr(module, name) + 1)
    assert content_key(files, DEFAULT_PARAMS) != before


def test_the_key_depends_on_no_source_file(monkeypatch: pytest.MonkeyPatch) -> None:
    files = SourceFiles()
    files.add("a.txt", b"Some text.", "0" * 64, None)
    before = content_key(files, DEFAULT_PARAMS)
    real = Path.read_bytes

    def no_source(path: Path) -> bytes:
        assert path.suffix != ".py", f"the key read {path}"
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", no_source)
    assert content_key(files, DEFAULT_PARAMS) == before
