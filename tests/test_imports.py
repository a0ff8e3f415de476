"""Imports point one way: the entry point imports the bot and the core; the bot imports the core; the core
imports neither (ruff's banned-api rule keeps `bot` and `discord` out of index/)."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_only_the_entry_point_imports_the_command_line() -> None:
    importers = {
        str(path.relative_to(REPO))
        for path in sorted((REPO / "bot").rglob("*.py"))
        if "bot.cli" in imported_modules(path)
    }
    assert importers == {"bot/__main__.py"}


def test_the_core_imports_neither_the_bot_nor_discord() -> None:
    offenders = {
        str(path.relative_to(REPO))
        for path in sorted((REPO / "index").rglob("*.py"))
        if any(name.split(".")[0] in ("bot", "discord") for name in imported_modules(path))
    }
    assert offenders == set()
