"""What installing qa-bot takes: every package and the model in the wheel, every dependency locked with hashes,
the licence declared. `.ci/wheel` builds and installs the wheel itself; these checks are the quick ones."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from tests.helpers import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """{package: (version, number of hashes)} of a lock file; a package locked twice (per Python version,
    behind markers) keeps its first version."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            current = normalised(match[1])
            entries.setdefault(current, (match[2], 0))
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"{requirement} is not pinned with =="
        found[normalised(match[1])] = match[2]
    return found


def test_every_package_under_bot_and_index_goes_into_the_wheel() -> None:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [
        ".".join(init.parent.relative_to(REPO).parts)
        for root in ("bot", "index")
        for init in (REPO / root).rglob("__init__.py")
    ]
    assert "bot.questionlog" in packages
    assert [p for p in packages if not any(fnmatch(p, pattern) for pattern in include)] == []


def test_the_model_file_is_package_data() -> None:
    from index.meaning.encoder import DEFAULT_MODEL, model_path

    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["index"]
    relative = model_path(DEFAULT_MODEL).relative_to(REPO / "index")
    assert any(fnmatch(str(relative), pattern) for pattern in patterns)


def test_the_runtime_lock_pins_each_dependency_as_pyproject_does_with_hashes() -> None:
    lock = locked(REPO / "requirements.lock")
    direct = pins(PYPROJECT["project"]["dependencies"])
    assert {name: lock.get(name, ("missing", 0))[0] for name in direct} == direct
    assert [name for name, (_, hashes) in lock.items() if hashes == 0] == []
    extras = {name for group in PYPROJECT["project"]["optional-dependencies"].values() for name in pins(group)}
    assert extras & set(lock) <= set(direct) | {"yarl"}  # no test, benchmark or model tool (yarl: for aiohttp)


def test_the_development_lock_adds_the_extras_to_the_same_runtime_versions() -> None:
    runtime = locked(REPO / "requirements.lock")
    development = locked(REPO / "requirements-dev.lock")
    wanted = {n: v for group in PYPROJECT["project"]["optional-dependencies"].values() for n, v in pins(group).items()}
    assert {name: development.get(name, ("missing", 0))[0] for name in wanted} == wanted
    assert {name: development[name][0] for name in runtime} == {name: version for name, (version, _) in runtime.items()}
    assert [name for name, (_, hashes) in development.items() if hashes == 0] == []


def test_the_licence_is_declared_and_shipped() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    done = subprocess.run([sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout == f"qa-bot {version('qa-bot')}\n"


def test_make_demo_installs_from_the_runtime_lock_only() -> None:
    # make's dry run (-n) of a build from nothing (-B): the commands `make demo` runs on a fresh clone.
    done = subprocess.run(["make", "-n", "-B", "demo"], cwd=REPO, capture_output=True, text=True, check=True)
    installs = [line for line in done.stdout.splitlines() if " pip install " in line]
    assert installs == [
        ".venv/bin/python -m pip install --quiet --no-compile --require-hashes -r requirements.lock",
        ".venv/bin/python -m pip install --quiet --no-compile --no-deps -e .",
    ]
