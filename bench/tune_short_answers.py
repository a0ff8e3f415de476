"""Fit the short-answer models on SQuAD's tune split; report tune, held-out and all.

    python bench/tune_short_answers.py PATH/squad-v1.1-dev.json.gz [--write] [--hits HITS.json]

Each question is asked with sentence vectors (`SearchIndex.search`, two hits); its first hit's spans
(`index.answers.short_answers.spans`) are the examples. Two logistic regressions with soft labels (the
span's SQuAD token F1) are fitted by gradient descent on the first TUNE_ARTICLES Wikipedia articles:
the span model on questions whose first hit is a gold sentence, the show model on every question
with a confident first hit that has a span. SHOW_THRESHOLD is the lowest estimate at which the
answers shown on the tune split reach a token F1 of TARGET_F1. `--write` rewrites
index/answers/short_answer_weights.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from index.answers.short_answers import choose, linear, question_class, spans
from index.evaluation.squad import TUNE_ARTICLES, attach_squad_vectors, load_squad, token_f1
from index.meaning.encoder import Encoder
from index.progress import terminal_or_log
from index.serving.building import index_articles
from index.storage.store import cache_folder

# The issue asks for F1 ≥ 0.8 where shown; the threshold is set for a little more on the tune split,
# because the held-out split came out about 0.02 lower in every fit tried.
TARGET_F1 = 0.825
WEIGHTS_FILE = Path(__file__).resolve().parent.parent / "index" / "answers" / "short_answer_weights.py"


def first_hits(path: Path, cache: Path | None) -> list[dict[str, object]]:
    """Per question: its text, answers, topic, first two hits' texts and scores, and whether the
    first is confident and a gold sentence (kept in `cache` when given: asking takes a minute or two)."""
    if cache and cache.exists():
        loaded: list[dict[str, object]] = json.loads(cache.read_text())
        return loaded
    corpus = load_squad(path)
    index = index_articles(corpus.articles)
    encoder = Encoder(threads=len(os.sched_getaffinity(0)))
    folder = cache_folder() / "vectors-squad" / encoder.model.identity
    model = encoder.model
    attach_squad_vectors(index, folder, model.identity, model.dimension, encoder.embed, terminal_or_log(sys.stderr))
    starts = [0, *np.cumsum([len(a.sentences) for a in index.articles]).tolist()]
    number = {a.id: n for n, a in enumerate(index.articles)}
    rows = []
    for q in corpus.questions:
        hits = index.search(q.text, 2)
        first = starts[number[hits[0].article]] + hits[0].sentence - 1 if hits else -1
        rows.append(
            {
                "question": q.text,
                "answers": list(q.answers),
                "tune": q.topic < TUNE_ARTICLES,
                "texts": [h.text for h in hits],
                "scores": [h.score for h in hits],
                "confident": bool(hits and hits[0].confident),
                "gold_first": first in set(q.golds),
            }
        )
    if cache:
        cache.write_text(json.dumps(rows))
    return rows


def fit(rows: list[dict[str, float]], labels: list[float], l2: float = 1e-3, steps: int = 4000) -> dict[str, float]:
    """Logistic regression with soft labels, by full-batch gradient descent from zero (deterministic)."""
    names = sorted({name for row in rows for name in row})
    x = np.zeros((len(rows), len(names) + 1))
    x[:, -1] = 1.0
    column = {name: n for n, name in enumerate(names)}
    for r, row in enumerate(rows):
        for name, value in row.items():
            x[r, column[name]] = value
    y = np.array(labels)
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        w -= 0.5 * (x.T @ (p - y) / len(y) + l2 * w)
    return {**{name: round(float(w[column[name]]), 4) for name in names}, "bias": round(float(w[-1]), 4)}


def python_dict(name: str, weights: dict[str, float]) -> str:
    """`weights` as a typed Python assignment, one entry a line (as ruff formats it)."""
    entries = "".join(f"    {key!r}: {value!r},\n".replace("'", '"') for key, value in sorted(weights.items()))
    return f"{name}: dict[str, float] = {{\n{entries}}}\n"


def lead(row: dict[str, object]) -> float:
    scores = row["scores"]
    assert isinstance(scores, list)
    return scores[0] - scores[1] if len(scores) > 1 else float("inf")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--hits", help="JSON file: reuse the first hits asked before (same code, same data)")
    parser.add_argument("--write", action="store_true", help="rewrite index/answers/short_answer_weights.py")
    args = parser.parse_args()
    rows = first_hits(Path(args.path), Path(args.hits) if args.hits else None)
    texts = [row["texts"] for row in rows]

    examples, labels = [], []
    for row, hit in zip(rows, texts, strict=True):
        if row["tune"] and row["gold_first"]:
            for span in spans(str(row["question"]), hit[0]):  # type: ignore[index]
                examples.append(span.features)
                labels.append(token_f1(span.text, row["answers"]))  # type: ignore[arg-type]
    span_weights = fit(examples, labels)

    # The show model sees the span the span model chose, as `choose` will when answering.
    chosen = []
    for row, hit in zip(rows, texts, strict=True):
        choice = choose(str(row["question"]), hit[0], lead(row), span_weights) if row["confident"] else None  # type: ignore[index]
        if choice is not None:
            chosen.append((row, choice, token_f1(choice.span.text, row["answers"])))  # type: ignore[arg-type]
    tune = [(c.features, f1) for row, c, f1 in chosen if row["tune"]]
    show_weights = fit([f for f, _ in tune], [f1 for _, f1 in tune], steps=6000)

    estimates = np.array([1 / (1 + np.exp(-linear(show_weights, c.features))) for _, c, _ in chosen])
    f1s = np.array([f1 for _, _, f1 in chosen])
    on_tune = np.array([bool(row["tune"]) for row, _, _ in chosen])
    totals = {"tune": sum(bool(r["tune"]) for r in rows), "held-out": sum(not r["tune"] for r in rows)}
    totals["all"] = len(rows)
    splits = {"tune": on_tune, "held-out": ~on_tune, "all": np.ones_like(on_tune)}

    def report(threshold: float) -> str:
        parts = []
        for name, keep in splits.items():
            shown = keep & (estimates >= threshold)
            f1 = f1s[shown].mean() if shown.any() else 0.0
            parts.append(f"{name}: {shown.sum() / totals[name]:.3f} of questions, F1 {f1:.3f}")
        return " | ".join(parts)

    for threshold in np.arange(0.5, 0.951, 0.05):
        print(f"threshold {threshold:.2f}: {report(threshold)}")
    candidates = [
        t
        for t in np.arange(0.3, 0.99, 0.01)
        if (on_tune & (estimates >= t)).any() and f1s[on_tune & (estimates >= t)].mean() >= TARGET_F1
    ]
    threshold = round(float(min(candidates)), 2) if candidates else 1.0
    print(f"chosen: {threshold:.2f}: {report(threshold)}")
    print("by what the question asks (all questions; shown, token F1 where shown):")
    for asked in sorted({question_class(str(row["question"]))[0] for row, _, _ in chosen}):
        mask = np.array([question_class(str(row["question"]))[0] == asked for row, _, _ in chosen])
        shown = mask & (estimates >= threshold)
        print(f"  {asked}: {shown.sum():,}, F1 {f1s[shown].mean() if shown.any() else 0:.3f}")
    if args.write:
        WEIGHTS_FILE.write_text(
            '"""Written by bench/tune_short_answers.py (SQuAD v1.1 dev, tune split); '
            'see index/answers/short_answers.py."""\n\n'
            + python_dict("SPAN_WEIGHTS", span_weights)
            + python_dict("SHOW_WEIGHTS", show_weights)
            + f"SHOW_THRESHOLD = {threshold}\n"
        )
        print(f"wrote {WEIGHTS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
