"""`make demo` on a fresh clone, as a new user runs it: wall time and the size of .venv, for several revisions
in one run (alternating, so that both see the same machine load).

    python bench/install.py --rev 5480163 --rev HEAD --rounds 2 [--check]

Each run clones the revision into a temporary folder and runs `make demo` with empty cache and data folders
(XDG_CACHE_HOME, XDG_DATA_HOME: no saved index, model or vectors) and an empty pip cache (PIP_CACHE_DIR), so
nothing of an earlier run is reused; the package index is the machine's own. With --warm, each revision's
second and later rounds reuse its first round's pip cache (what a second install on one machine sees). The CPU
time (user + system, of make and everything it runs) varies far less with the machine's load than the wall
time. --check fails (exit 1) when the last revision misses the targets of issue 21 (60 s, 450 MB).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"seconds": 60.0, "venv_mb": 450.0}


def folder_mb(folder: Path) -> float:
    return sum(f.lstat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def demo(revision: str, pip_cache: Path | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="qa-bot-install-") as scratch:
        root = Path(scratch)
        clone = root / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", revision], check=True)
        env = dict(os.environ)
        for name in ("cache", "data", "pip"):
            (root / name).mkdir()
        env.update(XDG_CACHE_HOME=str(root / "cache"), XDG_DATA_HOME=str(root / "data"))
        env.update(PIP_CACHE_DIR=str(pip_cache or root / "pip"))
        for name in ("INDEX_CACHE_DIR", "MODEL_CACHE_DIR", "STATE_DB", "VIRTUAL_ENV"):
            env.pop(name, None)
        began, cpu = time.perf_counter(), cpu_seconds()
        subprocess.run(["make", "demo"], cwd=clone, env=env, check=True, capture_output=True)
        seconds, cpu = time.perf_counter() - began, cpu_seconds() - cpu
        return {"seconds": seconds, "cpu_s": cpu, "venv_mb": folder_mb(clone / ".venv")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", action="append", required=True, help="a git revision (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--warm", action="store_true", help="rounds after the first reuse the revision's pip cache")
    parser.add_argument("--check", action="store_true", help="exit 1 if the last revision misses the targets")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {rev: [] for rev in args.rev}
    caches = tempfile.TemporaryDirectory(prefix="qa-bot-pip-caches-")
    for round_ in range(args.rounds):
        for n, rev in enumerate(args.rev):
            result = demo(rev, Path(caches.name) / str(n) if args.warm else None)
            if args.warm and round_ == 0:
                continue  # it only filled the pip cache
            results[rev].append(result)
            load = os.getloadavg()[0]
            figures = f"{result['seconds']:.1f} s ({result['cpu_s']:.1f} s CPU), .venv {result['venv_mb']:.0f} MB"
            print(f"round {round_ + 1} {rev}: {figures} (load {load:.1f})", flush=True)
    caches.cleanup()
    print("\n| revision | `make demo` wall time (median) | CPU time | .venv |\n|---|---:|---:|---:|")
    for rev, runs in results.items():
        seconds, cpu, size = (statistics.median(r[k] for r in runs) for k in ("seconds", "cpu_s", "venv_mb"))
        print(f"| {rev} | {seconds:.1f} s | {cpu:.1f} s | {size:.0f} MB |")
    last = results[args.rev[-1]]
    missed = [k for k, limit in TARGETS.items() if statistics.median(r[k] for r in last) > limit]
    if args.check and missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
