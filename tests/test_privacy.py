"""Nothing about the host is collected, and nothing is written outside qa-bot's own cache and data folders.

Each command runs as a user runs it, in a process of its own with HOME and the system temp folder in
tmp_path, so every file it writes (its libraries' too: onnxruntime's usage events, matplotlib's font list,
tiktoken's copy of its tables) lands where the test can see it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, SEEDS

# onnxruntime records nothing when it believes it runs in CI, whatever the project does: cleared, so that
# CI checks what a user's machine does.
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "CIRCLECI", "TRAVIS", "JENKINS_URL", "BUILDKITE")
OWN_FOLDERS = (Path(".cache", "qa-bot"), Path(".local", "share", "qa-bot"))

# The bot's embedding worker (a process of its own, as `qa-bot run` starts it), embedding one sentence.
BOT_WORKER = """
from bot.vectors import EmbeddingPool
pool = EmbeddingPool(threads=1)
print(pool.embed(["Niger has had four coups."]).shape)
pool.close()
"""


def user_environment(home: Path) -> dict[str, str]:
    """This process's environment as a user's shell would have it: HOME and the temp folder in `home`, none
    of the tests' own folders (INDEX_CACHE_DIR, STATE_DB), no CI markers, no XDG folders."""
    cleared = {"INDEX_CACHE_DIR", "STATE_DB", "MPLCONFIGDIR", "TIKTOKEN_CACHE_DIR", "ORT_DISABLE_TELEMETRY"}
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in cleared and name not in CI_VARIABLES and not name.startswith("XDG_")
    }
    (home / "tmp").mkdir(parents=True)
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), SEEDS_DIR=str(SEEDS), DISCORD_TOKEN="", SEMANTIC="on")
    return env


def written_elsewhere(home: Path) -> list[str]:
    """Files under `home` outside qa-bot's own cache and data folders."""
    return sorted(
        str(path.relative_to(home))
        for path in home.rglob("*")
        if path.is_file() and not any(path.relative_to(home).is_relative_to(own) for own in OWN_FOLDERS)
    )


@pytest.mark.slow
def test_the_commands_and_the_bots_worker_write_nothing_outside_qa_bots_own_folders(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = user_environment(home)
    page = REPO / "tests" / "data" / "news_page.html"
    (tmp_path / "added").mkdir()
    commands = [
        ["ask", "How many coups has Niger had?"],
        ["index"],
        ["check"],
        ["stats", "--chart", str(tmp_path / "chart.png")],
        ["add", "--seeds", str(tmp_path / "added"), str(page)],
    ]
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "bot", *command], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        # `stats` finds no question log yet (exit 2, one line saying so); the others succeed.
        assert done.returncode == (2 if command[0] == "stats" else 0), (command, done.stderr)
    worker = subprocess.run([sys.executable, "-c", BOT_WORKER], env=env, cwd=REPO, capture_output=True, text=True)
    assert worker.stdout.strip() == "(1, 384)", worker.stderr

    assert written_elsewhere(home) == []
    assert (home / ".cache" / "qa-bot").is_dir()  # the commands did write: where they should
    # The model ships ready (index/models/): a first run makes no copy of it, quantised or not.
    assert [path.name for path in home.rglob("*.onnx")] == []


def test_onnxruntime_is_told_to_record_nothing_before_it_can_be_imported() -> None:
    # In a fresh interpreter: importing the core sets the switch, and nothing had imported onnxruntime first.
    probe = "import sys, os, index; print(os.environ.get('ORT_DISABLE_TELEMETRY'), 'onnxruntime' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "False"]
