"""The import graph: the entry point imports the bot and the core; the bot imports the core's public API
(`index`) only; inside the core, each stage's folder imports only the stages before it; no cycles
anywhere, imports made only for type checking or inside functions included."""

import ast
import itertools
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# index/'s subpackages in data-flow order: each may import those before it, never one after it.
# `progress` (how far a long job is) is a leaf every stage may use.
STAGES = ("progress", "articles", "storage", "meaning", "ranking", "answers", "serving", "evaluation", "shell")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import stands (`from a import b` counts a.b when it is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def graph(*packages: str) -> dict[str, set[str]]:
    """Module → the modules of `packages` it imports."""
    modules = {module_name(path): path for package in packages for path in sorted((REPO / package).rglob("*.py"))}
    return {name: {m for m in imported_modules(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    counter = itertools.count()

    def visit(node: str) -> None:
        index[node] = low[node] = next(counter)
        stack.append(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_the_core_or_the_bot() -> None:
    assert cycles(graph("index", "bot")) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_each_stage_imports_only_the_stages_before_it() -> None:
    backward = set()
    for module, targets in graph("index").items():
        if module == "index":  # the public API gathers every stage
            continue
        stage = module.split(".")[1]
        for target in targets:
            if target == "index":
                backward.add(f"{module} -> index (the public API is for callers outside index/)")
            elif (other := target.split(".")[1]) != stage and STAGES.index(other) > STAGES.index(stage):
                backward.add(f"{module} -> {target}")
    assert backward == set()


def test_every_subpackage_of_the_core_is_a_stage() -> None:
    found = {module.split(".")[1] for module in graph("index") if module != "index"}
    assert found == set(STAGES)


def test_the_bot_imports_only_the_cores_public_api() -> None:
    reaching_in = set()
    for path in sorted((REPO / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                named = [node.module]
            elif isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            else:
                continue
            reaching_in.update(f"{module_name(path)} -> {name}" for name in named if name.startswith("index."))
    assert reaching_in == set()


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


def test_the_benchmarks_and_the_testkit_import_nothing_from_the_tests() -> None:
    """What both use (the offline Discord, the load scenario, generated corpora) lives in testkit/."""
    offenders = {
        f"{path.relative_to(REPO)} -> {name}"
        for folder in ("bench", "testkit")
        for path in sorted((REPO / folder).rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] == "tests"
    }
    assert offenders == set()


def test_every_public_name_resolves_and_answering_loads_no_command_line() -> None:
    import subprocess
    import sys

    code = (
        "import sys, index; loaded = sorted(m for m in sys.modules if m.startswith(('index.shell', 'argparse',"
        " 'index.articles.ingest', 'index.serving.build_worker', 'index.meaning.embedding_pool')));"
        " missing = [n for n in index.__all__ if getattr(index, n, None) is None]; print(loaded, missing)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.strip() == "[] []"
