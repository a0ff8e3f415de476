"""How much memory an index takes per MB of articles: builds one from SQuAD paragraphs and reports peak RSS.

Usage: python bench/index_memory.py SQUAD_JSON_GZ MEGABYTES
(e.g. /work/shared/data/squad-v1.1-dev.json.gz 20). Writes its articles to a temporary folder.
"""

from __future__ import annotations

import gzip
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from index import build_index


def main(squad: Path, megabytes: int) -> None:
    with gzip.open(squad, "rt", encoding="utf-8") as file:
        data = json.load(file)
    paragraphs = [p["context"] for a in data["data"] for p in a["paragraphs"]]
    with tempfile.TemporaryDirectory() as folder:
        size = files = 0
        while size < megabytes * 1_000_000:
            start = files % len(paragraphs)
            # "(copy N)" keeps every file distinct, so none is skipped as a duplicate.
            text = "\n\n".join(f"{p} (copy {files})" for p in paragraphs[start : start + 20])
            (Path(folder) / f"{files:06}.txt").write_text(text, encoding="utf-8")
            size, files = size + len(text.encode("utf-8")), files + 1
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        _, report = build_index(Path(folder))
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{size / 1e6:.1f} MB in {files:,} files: {report.sentences:,} sentences in {seconds:.1f} s; "
        f"peak RSS {before:.0f} MB before the build, {after:.0f} MB after ({(after - before) / (size / 1e6):.1f}x)"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
