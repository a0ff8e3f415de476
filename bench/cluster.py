"""N processes serving one saved index: their memory, their questions per second, and a reload in step.

    python bench/cluster.py SQUAD_JSON_GZ [--megabytes 10] [--processes 1,2,4] [--questions 200] [--check]

Builds an archive from SQuAD paragraphs (as bench/index_memory.py does) and saves its index once. Then
for each N, starts N fresh processes that each map the saved index the way the bot does
(`IndexHolder.build`) and join the reload protocol (`bot.reload_sync.ReloadSync`), and measures:
- total PSS of the N processes over one process's PSS (the mapped file's pages are shared);
- questions per second across the N processes, every process answering its own questions at once;
- a reload in step: one process rebuilds (an article added) and announces it; the time until every
  process reports serving the new index (what the moderator's "N/N processes" waits for).
`--check` exits 1 when N processes' PSS exceeds 1.3x one process's, or a reload takes over 2 s to reach
all. Timings depend on the machine's load: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def pss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def write_archive(squad: Path, folder: Path, megabytes: float) -> list[str]:
    with gzip.open(squad, "rt", encoding="utf-8") as file:
        data = json.load(file)
    paragraphs = [p for a in data["data"] for p in a["paragraphs"]]
    questions = [q["question"] for p in paragraphs for q in p["qas"]]
    size = files = 0
    while size < megabytes * 1_000_000:
        start = files % len(paragraphs)
        text = "\n\n".join(f"{p['context']} (copy {files})" for p in paragraphs[start : start + 20])
        (folder / f"{files:06}.txt").write_text(text, encoding="utf-8")
        size, files = size + len(text.encode()), files + 1
    return questions


# -- a serving process


async def serve(folder: Path, questions: list[str]) -> None:
    from bot.index_holder import IndexHolder
    from bot.reload_sync import ReloadSync
    from index.storage import store

    holder: IndexHolder | None = None

    async def follow() -> str | None:
        assert holder is not None
        return (await holder.reload()).error

    sync = ReloadSync(store.index_file(store.cache_folder(), folder), f"pid {os.getpid()}", follow, answer_seconds=120)
    generation = await sync.read_generation()
    holder = await IndexHolder.build(folder)
    await sync.start(generation)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        if line == "ask":
            started = time.perf_counter()
            for question in questions:
                await holder.ask(question, 3)
            print(f"asked {time.perf_counter() - started}", flush=True)
        elif line == "reload":
            started = time.perf_counter()
            report = await holder.reload()
            if report.error:
                raise RuntimeError(report.error)
            rebuilt = time.perf_counter() - started
            in_step = await sync.announce()
            print(f"reloaded {rebuilt} {time.perf_counter() - started} {in_step.serving} {in_step.total}", flush=True)
    await sync.close()


# -- the driver


def start(folder: Path, questions: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(folder), str(questions)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("a serving process failed to start")
    return process


def ask(process: subprocess.Popen[str], line: str) -> list[str]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()
    return process.stdout.readline().split()


def measure(folder: Path, questions: Path, env: dict[str, str], count: int, asked: int) -> dict[str, float]:
    processes = [start(folder, questions, env) for _ in range(count)]
    try:
        for process in processes:  # touch the pages a question reads before measuring memory
            ask(process, "ask")
        total_pss = sum(pss(p.pid) for p in processes)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("ask\n")
            process.stdin.flush()
        started = time.perf_counter()
        for process in processes:
            assert process.stdout is not None
            process.stdout.readline()
        per_second = count * asked / (time.perf_counter() - started)
        (folder / f"added-{count}.txt").write_text(
            f"title: Added for {count}\n\nA sentence added before the reload with {count} processes.",
            encoding="utf-8",
        )
        _, rebuilt, in_step, serving, total = ask(processes[-1], "reload")
        if serving != total:
            raise RuntimeError(f"only {serving}/{total} processes serve the reloaded index")
        return {
            "pss_mb": total_pss / 1e6,
            "questions_per_second": per_second,
            "rebuild_s": float(rebuilt),
            "reload_to_all_s": float(in_step),
        }
    finally:
        for process in processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in processes:
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("squad", type=Path, help="SQuAD v1.1 dev (.json.gz): the paragraphs the archive is made of")
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    with tempfile.TemporaryDirectory() as work:
        folder, cache = Path(work) / "articles", Path(work) / "cache"
        folder.mkdir()
        questions = write_archive(args.squad, folder, args.megabytes)[: args.questions]
        questions_file = Path(work) / "questions.json"
        questions_file.write_text(json.dumps(questions), encoding="utf-8")
        env = {**os.environ, "INDEX_CACHE_DIR": str(cache), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        from index import build_index

        os.environ["INDEX_CACHE_DIR"] = str(cache)
        index, report = build_index(folder)
        index.close()
        print(f"{report.sentences:,} sentences in {report.articles:,} articles; saved once, mapped by every process.")
        results = {n: measure(folder, questions_file, env, n, len(questions)) for n in counts}
    one = results[counts[0]]["pss_mb"]
    print("| processes | total PSS | over one process | questions/s (all processes) | rebuild | reload to all |")
    print("|---|---|---|---|---|---|")
    failed = False
    for n, r in results.items():
        ratio = r["pss_mb"] / one
        failed |= ratio > 1.3 or r["reload_to_all_s"] - r["rebuild_s"] > 2.0
        print(
            f"| {n} | {r['pss_mb']:.0f} MB | {ratio:.2f}x | {r['questions_per_second']:.0f} | "
            f"{r['rebuild_s']:.2f} s | {r['reload_to_all_s']:.2f} s |"
        )
    if args.check and failed:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        asked = json.loads(Path(sys.argv[3]).read_text(encoding="utf-8"))
        asyncio.run(serve(Path(sys.argv[2]), asked))
    else:
        main()
