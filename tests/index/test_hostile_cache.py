"""What is kept beside the index (the vectors' catalog, the reload generation) and the model file under
hostile hands (issue 23): a FIFO in a file's place is refused at once, a catalog of the wrong shape is
computed again with one warning, and a full disk while vectors are saved leaves answers by words, said so.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bot.cli import main
from bot.reload_sync import ReloadSync
from index import build_index
from index.meaning import vectors
from index.meaning.encoder import DEFAULT_MODEL, ModelUnavailable, verified_weights
from index.meaning.stage import fill
from index.meaning.vectors import VectorStore
from tests.helpers import write_articles

BOUND_SECONDS = 60.0  # a call that has not returned by then is waiting for a writer that never comes
DIMENSION = 8
ARTICLES = {
    "a.txt": "title: Harbour\n\nThe harbour reopened on Monday. Ships came back at once.",
    "b.txt": "title: Storm\n\nThe storm passed in the night. Nobody was hurt.",
}


def bounded(call: Callable[[], Any], fifo: Path) -> Any:
    """`call()`'s result, run in a thread; fails if it does not return (then a writer on `fifo` frees it)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND_SECONDS)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)) if fifo.exists() else None  # let the reader go
        thread.join(BOUND_SECONDS)
        pytest.fail(f"waited on the FIFO at {fifo.name}")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def fake_embed(texts: Any) -> np.ndarray:
    rows = np.random.default_rng(len(texts)).normal(size=(len(texts), DIMENSION)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# -- FIFOs (finding 8)


def test_a_fifo_in_the_models_place_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "all-MiniLM-L6-v2-int8.onnx"
    os.mkfifo(fifo)
    with pytest.raises(ModelUnavailable) as raised:
        bounded(lambda: verified_weights(DEFAULT_MODEL, fifo), fifo)
    assert str(raised.value) == (
        f"cannot read the {DEFAULT_MODEL.name} model at {fifo} (not a regular file (a pipe, socket, device or "
        "folder)): reinstall qa-bot, or answer with words only (SEMANTIC=off)"
    )


def test_a_fifo_at_the_vectors_catalog_is_unusable_and_computed_again(tmp_path, caplog):
    folder = tmp_path / "vectors"
    folder.mkdir()
    fifo = folder / "catalog.json"
    os.mkfifo(fifo)
    store = VectorStore(folder, "model", DIMENSION)
    with caplog.at_level(logging.WARNING, logger="index.vectors"):
        assert bounded(store.snapshot, fifo).row_count == 0
    assert caplog.messages == [
        f"The stored vectors in {folder} are unusable (not a regular file (a pipe, socket, device or folder)); "
        "they will be computed again."
    ]

    def write_one() -> None:
        with store.writing():
            store.append([("key", fake_embed(["x", "y"]))])

    bounded(write_one, fifo)
    assert json.loads(fifo.read_text())["rows"] == 2  # the FIFO was replaced by a real catalog


async def test_a_fifo_at_the_reload_generation_file_reads_as_no_reload_yet(tmp_path):
    index_path = tmp_path / "index-abc.bin"
    fifo = index_path.with_suffix(".generation")
    os.mkfifo(fifo)

    async def nothing() -> None:
        return None

    sync = ReloadSync(index_path, "shards 0-0 of 1", nothing)
    assert bounded(sync._read_generation, fifo) == (0, None)
    await sync.start(0)
    await sync.close()


# -- Catalogs of the wrong shape (finding 12)


def good_catalog(rows: int = 2) -> dict[str, Any]:
    return {"format": 1, "model": "model", "rows": rows, "articles": {"k": [0, rows]}, "centroids": None}


WRONG_SHAPES = [
    ([1, 2, 3], "not a JSON object"),
    ({**good_catalog(), "articles": {"k": [1, 2]}}, "an article's row count is not a whole number from 0 to 1"),
    ({**good_catalog(), "articles": {"k": 5}}, "the entry of article 'k' is not [first row, row count]"),
    ({**good_catalog(), "articles": [5]}, "articles is not an object"),
    ({**good_catalog(), "rows": -1}, "rows is not a whole number from 0 to 1099511627776"),
    ({**good_catalog(), "rows": "2"}, "rows is not a whole number from 0 to 1099511627776"),
    ({**good_catalog(), "rows": 10**30}, "rows is not a whole number from 0 to 1099511627776"),
    ({**good_catalog(), "centroids": "abc"}, "centroids is not a whole number from 0 to 2"),
    ({**good_catalog(), "generation": -3}, "generation is not a whole number from 0 to 2147483648"),
    ({**good_catalog(), "trained_rows": [1]}, "trained_rows is not a whole number from 0 to 1099511627776"),
]


@pytest.mark.parametrize(("catalog", "why"), WRONG_SHAPES)
def test_a_catalog_of_the_wrong_shape_is_one_warning_and_the_vectors_are_computed_again(tmp_path, caplog, catalog, why):
    seeds = write_articles(tmp_path / "seeds", ARTICLES)
    index, _ = build_index(seeds, use_cache=False)
    folder = tmp_path / "vectors"
    stage = index.attach_vectors(VectorStore(folder, "model", DIMENSION), fake_embed)
    assert fill(stage, index.embedding_texts, fake_embed) == 4
    (folder / "catalog.json").write_text(json.dumps(catalog))

    index.close()

    restarted, _ = build_index(seeds, use_cache=False)  # the next run, reading the catalog
    with caplog.at_level(logging.WARNING, logger="index.vectors"):
        stage = restarted.attach_vectors(VectorStore(folder, "model", DIMENSION), fake_embed)
        assert stage.view.ready == 0
        assert fill(stage, restarted.embedding_texts, fake_embed) == 4  # all of them, again
    assert stage.complete
    assert caplog.messages[0] == f"The stored vectors in {folder} are unusable ({why}); they will be computed again."
    assert restarted.ask("When did the harbour reopen?", 1).hits[0].article == "a.txt"
    restarted.close()


# -- A full disk while vectors are saved (finding 13)


def test_a_full_disk_while_saving_vectors_answers_by_words_and_says_so(tmp_path, monkeypatch, capsys):
    seeds = write_articles(tmp_path / "seeds", ARTICLES)

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # The vectors' own files only: `os` as index.meaning.vectors sees it, with fsync failing as a full disk makes it.
    monkeypatch.setattr(vectors, "os", SimpleNamespace(**{**vars(os), "fsync": no_space}))
    status = main(
        ["ask", "--seeds", str(seeds), "--cache-dir", str(tmp_path / "cache"), "When did the harbour reopen?"]
    )
    out, err = capsys.readouterr()
    assert status == 0
    assert err == (
        "qa-bot: sentence vectors could not be saved (No space left on device): answering by words only; "
        "free some space in the cache folder.\n"
    )
    assert "The harbour reopened on Monday." in out
    assert main(["ask", "--seeds", str(seeds), "--lexical", "When did the harbour reopen?"]) == 0
    assert capsys.readouterr().out == out  # answered by words alone
