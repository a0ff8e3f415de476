"""A big build in a child process: the same index as a build in this process, loaded from the saved file."""

from pathlib import Path

import numpy as np
import pytest

import index.build
from index import build_index
from tests.helpers import write_articles


def test_an_isolated_build_equals_one_in_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = write_articles(
        tmp_path / "seeds",
        {f"a{n:02}.txt": f"Article {n} says rain fell {n} times. The river rose near town {n}." for n in range(30)},
    )
    (seeds / "empty.txt").write_text("")
    monkeypatch.setattr(index.build, "POOL_MIN_BYTES", 0)  # isolate even this small folder
    here, _ = build_index(seeds, use_cache=False)
    isolated, report = build_index(seeds, cache_dir=tmp_path / "cache", isolate=True, workers=1)
    assert isolated.articles == here.articles
    assert isolated.bm25.vocabulary == here.bm25.vocabulary
    assert np.array_equal(isolated.bm25.data, here.bm25.data)
    assert not report.from_cache  # built now, in the child, and loaded from its saved file
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("empty.txt", "no text to index (the file is empty or holds only headers)")
    ]
