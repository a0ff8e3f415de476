"""What the semantic stage costs: embedding, answers with vectors ready, install size and start-up.

    python bench/semantic.py OUTDIR [--squad PATH] [--sizes 100000,1000000] [--questions 300] [--check]

- Embedding: 2,048 SQuAD sentences (or the seed article's, repeated, without --squad) in length-sorted
  batches of 8 (what the project uses) and of 64, with one thread per core, as `qa-bot index` and the
  bot's worker run it; and questions alone, one thread, as the bot embeds them.
- Full answers (`SearchIndex.ask(question, 3)`: BM25, the question's vector, its nearest sentences,
  re-ranking, passages and citations), p50 / p99, with the vectors ready, words only and with meaning,
  in the same run: on SQuAD's 10,258 real sentences with their real vectors; and on generated corpora
  (bench/speed.py's Zipf articles, kept in OUTDIR/corpus-N) with random unit vectors standing in for
  theirs (the search path's cost does not depend on what the vectors mean) and their partition trained.
- Install: the disk the semantic stage's packages take (onnxruntime and its dependencies, the model),
  and the start-up time it adds (a fresh process: importing onnxruntime, checking the weights' SHA-256,
  loading the model).
`--check` exits 1 past: 2.5 ms a sentence (batches of 8 and of 64), 20 / 60 ms p50 / p99, 150 MB, 0.3 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from index import SearchIndex, build_index, index_articles
from index.evaluation.squad import attach_squad_vectors, load_squad
from index.meaning.encoder import DEFAULT_MODEL, Encoder, model_path
from index.meaning.stage import cores
from index.meaning.vectors import VectorStore

LIMITS = {"embed_ms": 2.5, "embed_64_ms": 2.5, "p50_ms": 20.0, "p99_ms": 60.0, "install_mb": 150.0, "start_s": 0.3}
# The packages only the semantic stage needs (onnxruntime's own dependencies included).
PACKAGES = ("onnxruntime", "flatbuffers", "google.protobuf")  # and the model file, index/models/ (22.8 MB)


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    return float(np.percentile(seconds, 50) * 1000), float(np.percentile(seconds, 99) * 1000)


def embedding(sentences: list[str]) -> dict[str, float]:
    encoder = Encoder(threads=cores())
    encoder.embed(sentences[:64])  # warm up
    began = time.perf_counter()
    encoder.embed(sentences)
    per_sentence = (time.perf_counter() - began) / len(sentences) * 1000
    began = time.perf_counter()
    encoder.embed(sentences, batch=64)
    per_sentence_64 = (time.perf_counter() - began) / len(sentences) * 1000
    single = Encoder(threads=1)
    times = []
    for text in sentences[:200]:
        started = time.perf_counter()
        single.embed([text[:80] + "?"])
        times.append(time.perf_counter() - started)
    return {
        "embed_ms": per_sentence,
        "embed_64_ms": per_sentence_64,
        "question_p50_ms": _percentiles(times)[0],
        "sentences": len(sentences),
    }


def answers(index: SearchIndex, questions: list[str]) -> dict[str, float]:
    result: dict[str, float] = {}
    for name, lexical in (("words", True), ("meaning", False)):
        index.ask(questions[0], 3, lexical=lexical)  # loads the passage tokenizer once
        times = []
        for question in questions:
            started = time.perf_counter()
            index.ask(question, 3, lexical=lexical)
            times.append(time.perf_counter() - started)
        result[f"{name}_p50_ms"], result[f"{name}_p99_ms"] = _percentiles(times)
    return result


def random_vectors(index: SearchIndex, folder: Path) -> None:
    """Random unit vectors for every sentence of `index`, stored as real ones are, then partitioned."""
    rng = np.random.default_rng(0)
    store = VectorStore(folder, DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension)
    sizes = [len(article.sentences) for article in index.articles]
    with store.writing():
        batch: list[tuple[str, Any]] = []
        for key, size in zip(index.article_keys(), sizes, strict=True):
            vectors = rng.standard_normal((size, DEFAULT_MODEL.dimension)).astype(np.float32)
            batch.append((key, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
            if sum(len(v) for _, v in batch) >= 50_000:
                store.append(batch)
                batch = []
        store.append(batch)
        if store.needs_partition():
            store.train_partition()


def corpus(outdir: Path, sentences: int, questions: int) -> Path:
    from speed import generate

    folder = outdir / f"corpus-{sentences}"
    if not (folder / "questions.json").exists():
        generate(folder, sentences, questions)
    return folder


def install() -> dict[str, float]:
    total = 0
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        root = Path(spec.origin).parent
        total += sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    total += model_path(DEFAULT_MODEL).stat().st_size
    probe = (
        "import time, numpy; began = time.perf_counter(); from index.meaning.encoder import Encoder; "
        "Encoder(threads=1); "
        "print(time.perf_counter() - began)"
    )
    starts = [
        float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    ]
    return {"install_mb": total / 1e6, "start_s": min(starts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--squad", type=Path, help="SQuAD v1.1 dev (.json or .json.gz)")
    parser.add_argument("--sizes", default="100000,1000000", help="generated corpora, in sentences ('' for none)")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"load_average": os.getloadavg()[0], **install()}
    print(json.dumps(results), flush=True)
    squad = load_squad(args.squad) if args.squad else None
    texts = [s for a in squad.articles for s in a.sentences][:2048] if squad else []
    if not texts:
        seed = build_index(Path(__file__).resolve().parent.parent / "seeds", use_cache=False)[0]
        texts = [seed.sentence(n) for n in range(seed.sentence_count)] * 64
    results.update(embedding(texts[:2048]))
    print(json.dumps(results), flush=True)
    rows: dict[str, dict[str, float]] = {}
    if squad is not None:
        index = index_articles(squad.articles)
        encoder = Encoder(threads=cores())
        model = encoder.model
        folder = args.outdir / "squad-vectors"
        # Questions are embedded one at a time with one thread, as the bot does.
        questions = Encoder(threads=1).embed
        attach_squad_vectors(index, folder, model.identity, model.dimension, encoder.embed, questions=questions)
        rng = np.random.default_rng(1)
        asked = [squad.questions[int(n)].text for n in rng.choice(len(squad.questions), args.questions)]
        rows["SQuAD dev, 10,258 real sentences and vectors"] = answers(index, asked)
        print(json.dumps(rows), flush=True)
    questions_encoder = Encoder(threads=1)
    for size in [int(s) for s in args.sizes.split(",") if s]:
        folder = corpus(args.outdir, size, args.questions)
        index, _ = build_index(folder / "articles", cache_dir=folder / "cache")
        with tempfile.TemporaryDirectory(dir=args.outdir) as scratch:
            random_vectors(index, Path(scratch))
            index.attach_vectors(
                VectorStore(Path(scratch), DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension), questions_encoder.embed
            )
            asked = [q["question"] for q in json.loads((folder / "questions.json").read_text())][: args.questions]
            rows[f"{size:,} generated sentences, random unit vectors"] = answers(index, asked)
        print(json.dumps(rows), flush=True)
    results["answers"] = rows
    (args.outdir / "semantic.json").write_text(json.dumps(results, indent=1))
    print(table(results))
    failed = [
        name
        for name, value in [(key, results[key]) for key in ("embed_ms", "embed_64_ms", "install_mb", "start_s")]
        + [(k.removeprefix("meaning_"), v) for row in rows.values() for k, v in row.items() if k.startswith("meaning")]
        if value > LIMITS[name]
    ]
    if args.check and failed:
        print("over the limit: " + ", ".join(sorted(set(failed))), file=sys.stderr)
        return 1
    return 0


def table(results: dict[str, Any]) -> str:
    lines = [
        f"load average at the start: {results['load_average']:.1f}",
        "",
        "| figure | measured | limit |",
        "|---|---|---|",
        f"| embedding, per sentence (batches of 8, {cores()} threads) | {results['embed_ms']:.2f} ms | 2.5 ms |",
        f"| embedding, per sentence (batches of 64, {cores()} threads) | {results['embed_64_ms']:.2f} ms | 2.5 ms |",
        f"| embedding a question (1 thread), p50 | {results['question_p50_ms']:.2f} ms | |",
        f"| disk taken by onnxruntime, its dependencies and the model | {results['install_mb']:.0f} MB | 150 MB |",
        f"| start-up added (import, SHA-256 check, load) | {results['start_s']:.2f} s | 0.3 s |",
        "",
        "| full answer, p50 / p99 | words only | words and meaning |",
        "|---|---|---|",
    ]
    for name, row in results.get("answers", {}).items():
        lines.append(
            f"| {name} | {row['words_p50_ms']:.1f} / {row['words_p99_ms']:.1f} ms "
            f"| {row['meaning_p50_ms']:.1f} / {row['meaning_p99_ms']:.1f} ms |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
