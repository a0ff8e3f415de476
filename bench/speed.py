"""Speed at scale: the project's BM25 against rank-bm25 and bm25s on generated corpora.

    python bench/speed.py OUTDIR [--sizes 10000,100000,1000000] [--questions 1000]

For each size N it writes N sentences as article files (Zipf-distributed words: stop words
at the top ranks, then pronounceable made-up words), then measures each engine in its own
subprocess, so each peak RSS is that engine's alone:
- project build, as the running bot does it (`bot.index_holder.IndexHolder`): the start-up
  build from the files (the build time reported), then two reloads while a member asks every
  50 ms and a loop-lag probe ticks every 5 ms: from the files (the saved index deleted first,
  as when an article changed; the old index is replaced and closed) and from the saved index;
- project start: a fresh interpreter, imports included, to a ready index from the saved one;
  question latency is measured there (`Bm25.top(tokens, 10)`, and the full `search()`);
- rank-bm25 `BM25Okapi.get_scores` + a top-10 sort, and bm25s (method "robertson", numpy
  backend, its per-query `_get_top_k_results`), both indexed from the same tokens.
rank-bm25 answers at most --rank-bm25-seconds of questions (at least 30): at 1M sentences
that is a few dozen, enough to estimate its latency. The project's top 10 is checked against
rank-bm25's for every question rank-bm25 answered. Writes OUTDIR/table.md and OUTDIR/latency.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20260501
VOCABULARY = 200_000
ZIPF_EXPONENT = 1.07
SENTENCES_PER_ARTICLE = (20, 80)
WORDS_PER_SENTENCE = (8, 30)
TOP = 10
TIE_DECIMALS = 9


# ---------------------------------------------------------------- corpus


def _made_up_words(count: int, rng: np.random.Generator) -> list[str]:
    onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "ch", "sh"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < count:
        syllables = int(rng.integers(2, 5))
        word = "".join(onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))] for _ in range(syllables))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def generate(folder: Path, sentences: int, questions: int) -> None:
    """Articles under folder/articles, their tokens (one sentence per line) and questions."""
    from index.articles.stopwords import STOP_WORDS
    from index.articles.text import tokenize, tokenize_question

    rng = np.random.default_rng(SEED)
    stop = sorted(w for w in STOP_WORDS if w.isalpha())
    vocabulary = stop + _made_up_words(VOCABULARY - len(stop), rng)
    tokens_of = [tokenize(w) for w in vocabulary]
    token_of = [t[0] if t else "" for t in tokens_of]
    probabilities = 1.0 / np.arange(1, len(vocabulary) + 1) ** ZIPF_EXPONENT
    probabilities /= probabilities.sum()
    lengths = rng.integers(WORDS_PER_SENTENCE[0], WORDS_PER_SENTENCE[1] + 1, size=sentences)
    words = rng.choice(len(vocabulary), size=int(lengths.sum()), p=probabilities)
    # A sentence ends on a made-up word: "no." or "mr." would not end a sentence for blingfire.
    ends = np.cumsum(lengths) - 1
    words[ends] = rng.integers(len(stop), len(vocabulary), size=sentences)
    articles = folder / "articles"
    articles.mkdir(parents=True)
    starts = np.concatenate(([0], np.cumsum(lengths)))
    with (folder / "tokens.txt").open("w") as tokens_file:
        done, number = 0, 0
        while done < sentences:
            count = min(int(rng.integers(*SENTENCES_PER_ARTICLE)), sentences - done)
            lines = []
            for s in range(done, done + count):
                ids = words[starts[s] : starts[s + 1]].tolist()
                text = " ".join(vocabulary[i] for i in ids)
                lines.append(text[0].upper() + text[1:] + ".")
                tokens_file.write(" ".join(token_of[i] for i in ids if token_of[i]) + "\n")
            paragraphs = [" ".join(lines[p : p + 5]) for p in range(0, len(lines), 5)]
            header = (
                f"title: Article {number}\ndate: 2024-01-{1 + number % 28:02d}\nurl: https://example.com/{number}\n\n"
            )
            (articles / f"a{number:07d}.txt").write_text(header + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
            done += count
            number += 1
    # A question: a question word and 2 to 5 words of a random sentence (stop words included).
    asked = []
    for s in rng.integers(0, sentences, size=questions):
        ids = words[starts[s] : starts[s + 1]]
        chosen = rng.choice(ids, size=min(len(ids), int(rng.integers(2, 6))), replace=False)
        text = "What " + " ".join(vocabulary[i] for i in chosen) + "?"
        asked.append({"question": text, "tokens": tokenize_question(text)})
    (folder / "questions.json").write_text(json.dumps(asked))
    # The tokens file must be what the project makes of the same text, or the comparison is void.
    with (folder / "tokens.txt").open() as tokens_file:
        for line, text in zip(tokens_file, _first_sentences(articles, 2_000), strict=False):
            assert line.split() == tokenize(text), (line, text)


def _first_sentences(articles: Path, count: int) -> list[str]:
    from index.articles.article import parse_article

    found: list[str] = []
    for path in sorted(articles.iterdir()):
        found.extend(parse_article(path.name, path.read_bytes()).sentences)
        if len(found) >= count:
            break
    return found[:count]


# ---------------------------------------------------------------- measuring


class PeakRss:
    """Samples this process's and its children's summed RSS: a build's workers count too."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> int:
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            with contextlib.suppress(Exception):  # a worker that just ended
                total += child.memory_info().rss
        return int(total)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._sample())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        # ru_maxrss would carry the parent's peak across exec; VmHWM is this process's own.
        status = Path("/proc/self/status").read_text()
        own = int(status.split("VmHWM:")[1].split()[0]) * 1024
        return max(self.peak, self._sample(), own)


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "queries": len(ms)}


def _reference_top(scores: np.ndarray) -> tuple[list[int], list[float]]:
    touched = np.flatnonzero(scores)
    order = touched[np.lexsort((touched, -np.round(scores[touched], TIE_DECIMALS)))][:TOP]
    return order.tolist(), scores[order].tolist()


def _questions(folder: Path) -> list[dict[str, Any]]:
    return list(json.loads((folder / "questions.json").read_text()))


def _token_lists(folder: Path) -> list[list[str]]:
    with (folder / "tokens.txt").open() as file:
        return [line.split() for line in file]


async def _max_loop_lag_while(work: Awaitable[Any]) -> tuple[Any, float, float]:
    """`work`'s result, its seconds, and the event loop's longest stall (ms) meanwhile (5 ms ticks)."""
    lags: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        tick = 0.005
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(tick)
            lags.append(time.perf_counter() - before - tick)

    ticker = asyncio.create_task(probe())
    started = time.perf_counter()
    result = await work
    seconds = time.perf_counter() - started
    done.set()
    await ticker
    return result, seconds, max(lags) * 1000


async def _as_the_running_bot_reloads(folder: Path, cache: Path) -> dict[str, Any]:
    """Start as the bot does (build from the files, then freeze what lives on), then reload twice
    while questions keep coming: from the files (the saved index deleted, as when an article
    changed) and from the saved index (nothing changed)."""
    from bot.index_holder import IndexHolder

    os.environ["INDEX_CACHE_DIR"] = str(cache)
    questions = [q["question"] for q in _questions(folder)]
    holder = await IndexHolder.build(folder / "articles")
    build_s = holder.last_build.seconds
    waits: list[float] = []
    reloading = asyncio.Event()

    async def ask_meanwhile() -> None:  # a member asking every 50 ms
        for question in itertools.cycle(questions):
            if reloading.is_set():
                return
            asked = time.perf_counter()
            await holder.ask(question, 3)
            waits.append(time.perf_counter() - asked)
            await asyncio.sleep(0.05)

    async def reload_while_asked() -> tuple[float, float]:
        waits.clear()
        reloading.clear()
        asker = asyncio.create_task(ask_meanwhile())
        report, seconds, lag_ms = await _max_loop_lag_while(holder.reload())
        reloading.set()
        await asker
        assert report.error is None, report.error
        return seconds, lag_ms

    for saved in cache.glob("index-*.bin"):
        saved.unlink()
    files_s, files_lag = await reload_while_asked()
    asked = len(waits)
    slowest = max(waits)
    saved_s, saved_lag = await reload_while_asked()
    return {
        "build_s": build_s,
        "reload_files_s": files_s,
        "reload_saved_s": saved_s,
        "loop_lag_ms": max(files_lag, saved_lag),
        "loop_lag_files_ms": files_lag,
        "loop_lag_saved_ms": saved_lag,
        "asked": asked + len(waits),
        "slowest_answer_ms": max(slowest, *waits) * 1000,
        "sentences": holder.index.sentence_count,
    }


def engine_project_build(folder: Path, cache: Path) -> dict[str, Any]:
    shutil.rmtree(cache, ignore_errors=True)
    rss = PeakRss()
    result = asyncio.run(_as_the_running_bot_reloads(folder, cache))
    return {**result, "rss_build": rss.stop()}


def engine_project_start(folder: Path, cache: Path, started: float) -> dict[str, Any]:
    rss = PeakRss()
    from index import build_index

    index, report = build_index(folder / "articles", cache_dir=cache)
    start_s = time.perf_counter() - started
    assert report.from_cache, "the saved index was not used"
    questions = _questions(folder)
    times, full, tops = [], [], []
    for q in questions:
        t = time.perf_counter()
        found = index.bm25.top(q["tokens"], TOP)
        times.append(time.perf_counter() - t)
        tops.append((found.docs.tolist(), found.scores.tolist()))
    for q in questions:
        t = time.perf_counter()
        index.search(q["question"], 3)
        full.append(time.perf_counter() - t)
    search = _percentiles(full)
    return {
        "start_s": start_s,
        **_percentiles(times),
        "search_p50_ms": search["p50_ms"],
        "search_p99_ms": search["p99_ms"],
        "sentences": index.sentence_count,
        "rss": rss.stop(),
        "tops": tops,
    }


def engine_rank_bm25(folder: Path, budget_s: float) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    from index.storage.bm25 import DEFAULT_PARAMS as P

    rss = PeakRss()
    corpus = _token_lists(folder)
    t = time.perf_counter()
    engine = BM25Okapi(corpus, k1=P.k1, b=P.b, epsilon=P.epsilon)
    build_s = time.perf_counter() - t
    times, tops = [], []
    spent = time.perf_counter()
    for q in _questions(folder):
        t = time.perf_counter()
        scores = engine.get_scores(q["tokens"])
        top = _reference_top(scores)
        times.append(time.perf_counter() - t)
        tops.append(top)
        if len(times) >= 30 and time.perf_counter() - spent > budget_s:
            break
    return {"build_s": build_s, **_percentiles(times), "rss": rss.stop(), "tops": tops, "sentences": len(corpus)}


def engine_bm25s(folder: Path) -> dict[str, Any]:
    import bm25s

    from index.storage.bm25 import DEFAULT_PARAMS as P

    rss = PeakRss()
    corpus = _token_lists(folder)
    t = time.perf_counter()
    engine = bm25s.BM25(k1=P.k1, b=P.b, method="robertson")
    engine.index(corpus, show_progress=False)
    build_s = time.perf_counter() - t
    del corpus
    times = []
    for q in _questions(folder):
        t = time.perf_counter()
        if q["tokens"]:
            engine._get_top_k_results(q["tokens"], k=TOP, sorted=True)
        times.append(time.perf_counter() - t)
    return {"build_s": build_s, **_percentiles(times), "rss": rss.stop()}


def run_engine(argv: list[str]) -> None:
    started = time.perf_counter()
    engine, folder = argv[0], Path(argv[1])
    if engine == "project-build":
        result = engine_project_build(folder, Path(argv[2]))
    elif engine == "project-start":
        result = engine_project_start(folder, Path(argv[2]), started)
    elif engine == "rank-bm25":
        result = engine_rank_bm25(folder, float(argv[2]))
    else:
        result = engine_bm25s(folder)
    result["load_average"] = os.getloadavg()[0]  # other work on the machine skews every timing
    result["cpu_s"] = sum(os.times()[:4])  # this process's CPU time and its finished children's
    (folder / f"{engine}.json").write_text(json.dumps(result))


def _subprocess(*args: str) -> dict[str, Any]:
    subprocess.run([sys.executable, __file__, "--engine", *args], check=True)
    return dict(json.loads((Path(args[1]) / f"{args[0]}.json").read_text()))


# ---------------------------------------------------------------- report


def _compare(project: list[Any], reference: list[Any]) -> tuple[int, int, float]:
    """(questions compared, questions whose top 10 ids are equal, largest score difference)."""
    same, worst = 0, 0.0
    for (docs, scores), (ref_docs, ref_scores) in zip(project, reference, strict=False):
        same += docs == ref_docs
        if len(scores) == len(ref_scores):
            worst = max(worst, float(np.max(np.abs(np.array(scores) - np.array(ref_scores)), initial=0.0)))
        else:
            worst = float("inf")
    return min(len(project), len(reference)), same, worst


def _without_tops(result: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in result.items() if name != "tops"}


def _mb(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def table(results: dict[int, dict[str, Any]]) -> str:
    rows = [
        "| sentences | engine | build (s) | start (s) | p50 (ms) | p99 (ms) | questions | peak RSS (MB) | notes |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n, r in sorted(results.items()):
        build, start, rank, fast = r["project-build"], r["project-start"], r["rank-bm25"], r["bm25s"]
        compared, same, worst = _compare(start["tops"], rank["tops"])
        notes = (
            f"running bot reloading (a question every 50 ms): from files {build['reload_files_s']:.1f} s, "
            f"longest loop stall {build['loop_lag_files_ms']:.0f} ms; from the saved index "
            f"{build['reload_saved_s']:.2f} s, longest stall {build['loop_lag_saved_ms']:.0f} ms; slowest of "
            f"{build['asked']} answers meanwhile {build['slowest_answer_ms']:.0f} ms; peak RSS while reloading "
            f"{_mb(build['rss_build'])} MB (old index, new build, workers); {build['cpu_s']:.0f} s CPU for the "
            f"start-up build and both reloads, load average {build['load_average']:.1f}; "
            f"full search() p50/p99 {start['search_p50_ms']:.2f}/{start['search_p99_ms']:.2f} ms; "
            f"top 10 = rank-bm25's on {same}/{compared} questions, max score diff {worst:.1e}; "
            f"p50 {rank['p50_ms'] / start['p50_ms']:,.0f}x faster than rank-bm25's, "
            f"{fast['p50_ms'] / start['p50_ms']:,.1f}x faster than bm25s's"
        )
        rows.append(
            f"| {n:,} | project | {build['build_s']:.1f} | {start['start_s']:.2f} | {start['p50_ms']:.2f} | "
            f"{start['p99_ms']:.2f} | {start['queries']:,} | {_mb(start['rss'])} | {notes} |"
        )
        rows.append(
            f"| {n:,} | rank-bm25 | {rank['build_s']:.1f} (from tokens) | – | {rank['p50_ms']:.1f} | "
            f"{rank['p99_ms']:.1f} | {rank['queries']:,} | {_mb(rank['rss'])} | get_scores + top-10 sort |"
        )
        rows.append(
            f"| {n:,} | bm25s | {fast['build_s']:.1f} (from tokens) | – | {fast['p50_ms']:.2f} | "
            f"{fast['p99_ms']:.2f} | {fast['queries']:,} | {_mb(fast['rss'])} | method robertson, numpy backend |"
        )
    return "\n".join(rows) + "\n"


def plot(results: dict[int, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for key, label in (("project-start", "project BM25"), ("bm25s", "bm25s"), ("rank-bm25", "rank-bm25")):
        (line,) = axes.plot(sizes, [results[n][key]["p50_ms"] for n in sizes], marker="o", label=f"{label} p50")
        axes.plot(sizes, [results[n][key]["p99_ms"] for n in sizes], linestyle="--", color=line.get_color())
    start = [results[n]["project-start"] for n in sizes]
    (line,) = axes.plot(sizes, [r["search_p50_ms"] for r in start], marker="s", label="project full answer p50")
    axes.plot(sizes, [r["search_p99_ms"] for r in start], linestyle="--", color=line.get_color())
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("sentences indexed")
    axes.set_ylabel("latency per question (ms; dashed: p99)")
    axes.set_title("Latency against corpus size (BM25 top 10; full answer)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--engine":
        run_engine(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--rank-bm25-seconds", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora")
    parser.add_argument("--report-only", action="store_true", help="remake table and plot from a kept run's results")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, Any]] = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        folder = args.outdir / f"corpus-{n}"
        cache = folder / "cache"
        if args.report_only:
            engines = ("project-build", "project-start", "rank-bm25", "bm25s")
            results[n] = {e: json.loads((folder / f"{e}.json").read_text()) for e in engines}
            continue
        if not (folder / "questions.json").exists():
            shutil.rmtree(folder, ignore_errors=True)
            t = time.perf_counter()
            generate(folder, n, args.questions)
            print(f"generated {n:,} sentences in {time.perf_counter() - t:.1f} s", flush=True)
        results[n] = {
            "project-build": _subprocess("project-build", str(folder), str(cache)),
            "project-start": _subprocess("project-start", str(folder), str(cache)),
            "rank-bm25": _subprocess("rank-bm25", str(folder), str(args.rank_bm25_seconds)),
            "bm25s": _subprocess("bm25s", str(folder)),
        }
        assert results[n]["project-start"]["sentences"] == n, "the project split the sentences differently"
        print(table({n: results[n]}), flush=True)
        if not args.keep:
            shutil.rmtree(folder / "articles")
    text = table(results)
    (args.outdir / "table.md").write_text(text)
    (args.outdir / "results.json").write_text(
        json.dumps({n: {k: _without_tops(v) for k, v in r.items()} for n, r in results.items()})
    )
    plot(results, args.outdir / "latency.png")
    print(text)
    print(f"wrote {args.outdir / 'table.md'} and {args.outdir / 'latency.png'}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
