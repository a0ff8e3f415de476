"""The speed targets of the mapped index, measured against another checkout (today's main) in one run.

    python bench/targets.py CORPUS [--today /path/to/main] [--questions 300] [--check]

CORPUS is a folder made by `bench/speed.py` (CORPUS/articles, CORPUS/questions.json; keep one with
`--keep`). Each figure comes from fresh processes, first with the other checkout's code (run by its
own .venv's Python, so `index` and `bot` are its own), then with this one's:
- cold build from the files, as the running bot does it (`IndexHolder.build`), then two reloads
  while a member asks every 50 ms and a 5 ms ticker measures the event loop's longest stall: from the
  files (the saved index deleted first) and from the saved index;
- start from the saved index: a fresh interpreter, imports included, until `build_index` returns;
- full answer (`search(question, 3)`: BM25, re-ranking, passages and citations) p50 / p99;
- private memory of a serving process: its anonymous resident memory (RssAnon), which excludes the
  mapped index file's pages (shared through the page cache) but counts every copy a process makes;
- two processes serving the same saved index: their summed PSS over one process's PSS alone;
- `qa-bot ask --json` answering the questions on standard input (one process; its start from the
  saved index subtracted by running it once with one question), against rank-bm25's `get_scores`
  on the same sentences (CORPUS/rank-bm25.json, from `bench/speed.py --engine rank-bm25`).
`--check` exits 1 when this checkout misses a target.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The targets at a million sentences: (key, label, limit, unit).
TARGETS = (
    ("start_s", "start from the saved index, fresh process, imports included", 0.5, "s"),
    ("search_p50_ms", "full answer (search(), 3 hits) p50", 3.0, "ms"),
    ("search_p99_ms", "full answer (search(), 3 hits) p99", 15.0, "ms"),
    ("private_mb", "private memory of a serving process (RssAnon)", 150.0, "MB"),
    ("pss_ratio", "two processes serving the same file: total PSS / one process's", 1.2, ""),
    ("loop_lag_own_ms", "longest event-loop stall while the running bot reloads (CPU wait left out)", 20.0, "ms"),
    ("build_s", "cold build from files", 45.0, "s"),
)


# ---------------------------------------------------------------- probes (run by either checkout's Python)


def _questions(corpus: Path, count: int) -> list[str]:
    return [q["question"] for q in json.loads((corpus / "questions.json").read_text())][:count]


def _status(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_wait() -> float:
    """Seconds this thread has waited for a CPU while runnable (Linux schedstat): the machine's load, not ours."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except OSError:
        return 0.0


def pss(pid: int | str) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


async def _reloads(corpus: Path, cache: Path, questions: list[str]) -> dict[str, Any]:
    from bot import index_holder

    os.environ["INDEX_CACHE_DIR"] = str(cache)
    started = time.perf_counter()
    holder = await index_holder.IndexHolder.build(corpus / "articles")
    build_s = time.perf_counter() - started
    freeze = getattr(index_holder, "keep_out_of_full_collections", None)
    if freeze is not None:  # as the bot did before the mapped index
        freeze(collect=True)
    reloading = asyncio.Event()

    async def ask_meanwhile() -> None:
        for question in itertools.cycle(questions):
            if reloading.is_set():
                return
            await holder.ask(question, 3)
            await asyncio.sleep(0.05)

    async def reload() -> tuple[float, float, float]:
        lags: list[float] = []
        own: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                before, waited = time.perf_counter(), _cpu_wait()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - before - 0.005)
                own.append(lags[-1] - (_cpu_wait() - waited))

        reloading.clear()
        asker, ticking = asyncio.create_task(ask_meanwhile()), asyncio.create_task(ticker())
        began = time.perf_counter()
        report = await holder.reload()
        seconds = time.perf_counter() - began
        reloading.set()
        done.set()
        await asker
        await ticking
        assert report.error is None, report.error
        return seconds, max(lags) * 1000, max(own) * 1000

    for saved in cache.glob("index-*.bin"):
        saved.unlink()
    files_s, files_lag, files_own = await reload()
    saved_s, saved_lag, saved_own = await reload()
    return {
        "loop_lag_own_files_ms": files_own,
        "loop_lag_own_saved_ms": saved_own,
        "loop_lag_own_ms": max(files_own, saved_own),
        "build_s": build_s,
        "reload_files_s": files_s,
        "reload_saved_s": saved_s,
        "loop_lag_files_ms": files_lag,
        "loop_lag_saved_ms": saved_lag,
        "loop_lag_ms": max(files_lag, saved_lag),
        "load_average": os.getloadavg()[0],
    }


def probe_build(corpus: Path, cache: Path, out: Path) -> None:
    shutil.rmtree(cache, ignore_errors=True)
    result = asyncio.run(_reloads(corpus, cache, _questions(corpus, 200)))
    out.write_text(json.dumps(result))


def probe_serve(corpus: Path, cache: Path, out: Path, count: int) -> None:
    """Start from the saved index (the parent times it), answer, report, then wait to be told to quit."""
    from index import build_index

    index, report = build_index(corpus / "articles", cache_dir=cache)
    assert report.from_cache, "the saved index was not used"
    print("ready", flush=True)
    times = []
    for question in _questions(corpus, count):
        began = time.perf_counter()
        index.search(question, 3)
        times.append(time.perf_counter() - began)
    times.sort()
    result = {
        "search_p50_ms": times[len(times) // 2] * 1000,
        "search_p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
        "private_mb": _status("self", "RssAnon") / 2**20,
        "rss_mb": _status("self", "VmRSS") / 2**20,
        "sentences": index.sentence_count,
    }
    out.write_text(json.dumps(result))
    print("answered", flush=True)
    sys.stdin.readline()


# ---------------------------------------------------------------- the parent


def _run_probe(python: str, root: Path, *args: str) -> subprocess.Popen[str]:
    # SEMANTIC=off: these are the lexical index's figures (bench/semantic.py measures the sentence vectors).
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "0", "SEMANTIC": "off"}
    return subprocess.Popen(
        [python, str(Path(__file__).resolve()), "--probe", *args],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _wait_for(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdout is not None
    got = process.stdout.readline().strip()
    assert got == line, f"probe said {got!r}"


def measure(name: str, root: Path, corpus: Path, work: Path, questions: int) -> dict[str, Any]:
    python = str(root / ".venv" / "bin" / "python")
    cache = work / f"cache-{name}"
    out = work / f"{name}-build.json"
    builder = _run_probe(python, root, "build", str(corpus), str(cache), str(out))
    assert builder.wait() == 0, "the build probe failed"
    result: dict[str, Any] = json.loads(out.read_text())
    # One serving process: start, answers, memory; then a second one on the same file, for PSS.
    outs = [work / f"{name}-serve-{n}.json" for n in (1, 2)]
    began = time.perf_counter()
    first = _run_probe(python, root, "serve", str(corpus), str(cache), str(outs[0]), str(questions))
    _wait_for(first, "ready")
    result["start_s"] = time.perf_counter() - began
    _wait_for(first, "answered")
    alone = pss(first.pid)
    second = _run_probe(python, root, "serve", str(corpus), str(cache), str(outs[1]), str(questions))
    _wait_for(second, "ready")
    _wait_for(second, "answered")
    both = pss(first.pid) + pss(second.pid)
    for process in (first, second):
        assert process.stdin is not None
        process.stdin.write("quit\n")
        process.stdin.flush()
        process.wait()
    result.update(json.loads(outs[0].read_text()))
    result["pss_alone_mb"], result["pss_both_mb"] = alone / 2**20, both / 2**20
    result["pss_ratio"] = both / alone
    result.update(_cli(root, corpus, cache, questions))
    return result


def _cli(root: Path, corpus: Path, cache: Path, questions: int) -> dict[str, Any]:
    """Per-question time of `qa-bot ask --json` reading questions on stdin, its start subtracted."""
    command = [str(root / ".venv" / "bin" / "qa-bot"), "ask", "--json", "--seeds", str(corpus / "articles")]
    command += ["--cache-dir", str(cache)]
    asked = _questions(corpus, questions)

    env = {**os.environ, "PYTHONPATH": str(root), "SEMANTIC": "off"}  # the checkout's own code, words only

    def run(lines: list[str]) -> float:
        began = time.perf_counter()
        done = subprocess.run(
            command, input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=root, env=env, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
        answered = [line for line in done.stdout.splitlines() if line.startswith('{"question"')]
        assert len(answered) == len(lines), done.stdout[-2000:]
        return time.perf_counter() - began

    one = min(run(asked[:1]) for _ in range(2))
    many = run(asked)
    return {"cli_ms": (many - one) / (len(asked) - 1) * 1000, "cli_questions": len(asked)}


def _figure(value: float, unit: str) -> str:
    return f"{value:.2f} {unit}".strip() if value < 100 else f"{value:,.0f} {unit}".strip()


def _own(result: dict[str, Any], source: str) -> str:
    value = result.get(f"loop_lag_own_{source}_ms")
    return "–" if value is None else f"{value:.0f}"


def report(today: dict[str, Any], new: dict[str, Any], rank_bm25_ms: float | None) -> tuple[str, list[str]]:
    rows = ["| figure | today (main) | mapped index | target | met |", "|---|---:|---:|---:|---|"]
    missed = []
    for key, label, limit, unit in TARGETS:
        if key not in new or key not in today:  # a run from before the figure was measured
            rows.append(f"| {label} | – | – | ≤ {_figure(limit, unit)} | not measured |")
            missed.append(key)
            continue
        met = new[key] <= limit
        if not met:
            missed.append(key)
        rows.append(
            f"| {label} | {_figure(today[key], unit)} | {_figure(new[key], unit)} | ≤ {_figure(limit, unit)} | "
            f"{'yes' if met else 'no'} |"
        )
    for name, result in (("today", today), ("new", new)):
        cli = f"{result['cli_ms']:.2f} ms a question over {result['cli_questions']} questions"
        if rank_bm25_ms:
            cli += f", 1/{rank_bm25_ms / result['cli_ms']:,.0f} of rank-bm25's get_scores ({rank_bm25_ms:.0f} ms)"
        rows.append(f"| `qa-bot ask --json` full answer ({name}) | {cli} | | ≤ 1/300 | |")
    detail = (
        f"\nRaw loop stalls, waiting for a CPU included (files / saved): today"
        f" {today['loop_lag_files_ms']:.0f} / {today['loop_lag_saved_ms']:.0f} ms, new"
        f" {new['loop_lag_files_ms']:.0f} / {new['loop_lag_saved_ms']:.0f} ms; without it: today"
        f" {_own(today, 'files')} / {_own(today, 'saved')} ms, new {_own(new, 'files')} / {_own(new, 'saved')} ms."
        f"\nLoop stalls (files / saved): today {today['loop_lag_files_ms']:.0f} / {today['loop_lag_saved_ms']:.0f} ms, "
        f"new {new['loop_lag_files_ms']:.0f} / {new['loop_lag_saved_ms']:.0f} ms; reloads from files "
        f"{today['reload_files_s']:.1f} / {new['reload_files_s']:.1f} s, from the saved index "
        f"{today['reload_saved_s']:.2f} / {new['reload_saved_s']:.2f} s; RSS of a serving process "
        f"{today['rss_mb']:,.0f} / {new['rss_mb']:,.0f} MB; PSS alone / both {today['pss_alone_mb']:,.0f} / "
        f"{today['pss_both_mb']:,.0f} MB today, {new['pss_alone_mb']:,.0f} / {new['pss_both_mb']:,.0f} MB new; "
        f"load average {today['load_average']:.1f} / {new['load_average']:.1f}.\n"
    )
    return "\n".join(rows) + "\n" + detail, missed


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        kind, corpus, cache, out = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
        if kind == "build":
            probe_build(corpus, cache, out)
        else:
            probe_serve(corpus, cache, out, int(sys.argv[6]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--today", type=Path, help="another checkout with its own .venv (e.g. main)")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--work", type=Path, help="where the saved indexes and results go (default: CORPUS/targets)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--report-only", action="store_true", help="remake the table from a run's results")
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    work = (args.work or corpus / "targets").resolve()
    work.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent.parent
    if args.report_only:
        kept = json.loads((work / "targets.json").read_text())
        # A build probe rerun alone (`--probe build CORPUS CACHE OUT`) replaces that part of the results.
        new = {**kept["new"], **json.loads((work / "new-build.json").read_text())}
        today = {**kept["today"], **json.loads((work / "today-build.json").read_text())}
    else:
        new = measure("new", here, corpus, work, args.questions)
        today = measure("today", args.today.resolve(), corpus, work, args.questions) if args.today else new
    rank = corpus / "rank-bm25.json"
    rank_ms = json.loads(rank.read_text())["p50_ms"] if rank.exists() else None
    text, missed = report(today, new, rank_ms)
    (work / "targets.md").write_text(text)
    (work / "targets.json").write_text(json.dumps({"today": today, "new": new, "rank_bm25_p50_ms": rank_ms}))
    print(text)
    if args.check and missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
