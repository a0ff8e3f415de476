"""The documentation stays true to the code: every file it names exists in the repository, nothing points
outside it, and every setting the bot reads is in the README's table and in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.storage.store import CACHE_ENV
from tests.helpers import REPO

DOCUMENTS = sorted([REPO / "README.md", REPO / "tests" / "README.md", *(REPO / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# A path of the repository in backticks: `tests/index/test_cli.py`, `bench/speed.py`, `docs/quality.md`.
NAMED_PATH = re.compile(r"`((?:bench|bot|docs|index|seeds|tests)/[\w./-]+\.\w+)`")
SETTING = re.compile(r'(?:env\.get\(|_flag\(env, )"([A-Z_]+)"')


def named_files(document: Path) -> list[tuple[str, Path]]:
    text = document.read_text(encoding="utf-8")
    links = [(link, document.parent / link) for link in LINK.findall(text) if "://" not in link]
    return links + [(path, REPO / path) for path in NAMED_PATH.findall(text)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_file_a_document_names_exists_in_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    assert "/work/" not in text, "a path on a developer's machine, not in the repository"
    missing = [
        name for name, path in named_files(document) if not path.resolve().is_relative_to(REPO) or not path.exists()
    ]
    assert missing == []


def test_every_setting_is_documented_in_the_readme_and_env_example() -> None:
    settings = set(SETTING.findall((REPO / "bot" / "config.py").read_text(encoding="utf-8"))) | {CACHE_ENV}
    assert {"DISCORD_TOKEN", "IDENTIFY_CONCURRENCY", "ANSWER_IN_THREAD", "INDEX_CACHE_DIR"} <= settings
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    assert sorted(name for name in settings if f"| `{name}` |" not in readme) == []
    assert sorted(name for name in settings if not re.search(rf"^#? ?{name}=", example, re.MULTILINE)) == []


def test_env_example_gives_moderator_roles_the_readmes_powers() -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    comment = example.split("MODERATOR_ROLE_IDS=")[0].rsplit("\n\n", 1)[1]
    assert all(command in comment for command in ("/reload", "/article", "/stats"))
