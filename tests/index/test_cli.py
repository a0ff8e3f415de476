import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.helpers import REPO, SEEDS, write_articles

ANSWER_KEYS = [
    "rank", "score", "confident", "confidence", "article", "title", "date", "url", "source", "sentence", "text",
    "passage",
]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_json_is_one_object_per_question_with_the_exact_schema(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        capsys, "ask", "--seeds", str(SEEDS), "--json", "-k", "2", "How many coups?", "Who is in charge?"
    )
    assert (status, err) == (0, "")
    first, second = (json.loads(line) for line in out.splitlines())
    assert list(first) == ["question", "confident", "short_answer", "answers"]
    assert first["question"] == "How many coups?"
    assert first["confident"] is True
    assert len(first["answers"]) == 2
    top = first["answers"][0]
    assert list(top) == ANSWER_KEYS
    assert (top["rank"], top["article"], top["date"], top["url"], top["sentence"]) == (
        1,
        "000_eed0d9b0ce39977c.txt",
        "2023-07-27",
        None,
        33,
    )
    assert top["text"] in top["passage"]
    assert isinstance(top["score"], float)
    assert second["answers"][0]["text"] == "It is not clear at the moment who is really in charge of Niger."


def test_a_question_with_no_shared_term_has_no_answers(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "ask", "--seeds", str(SEEDS), "--json", "zebra xylophone")
    assert status == 0
    assert json.loads(out) == {"question": "zebra xylophone", "confident": False, "short_answer": None, "answers": []}


def test_human_output_numbers_passages_with_citations(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "ask", "--seeds", str(SEEDS), "-k", "1", "Who is in charge?")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "Q: Who is in charge?"
    assert lines[1].startswith(" 1. ")
    # Wrapped at 100 characters when piped (the terminal's width, at most 100, on a terminal), never inside a date.
    # The best hit (20) and those whose passages overlap its own: one passage, every one of them marked.
    assert lines[-2:] == [
        "    — Niger’s President Mohamed Bazoum has issued a defiant message on Twitter after… · 2023-07-27 ·",
        "      sentences 20, 21, 22, 23 · 000_eed0d9b0ce39977c.txt",
    ]
    assert max(len(line) for line in lines) <= 100


def test_no_confident_answer_is_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "ask", "--seeds", str(SEEDS), "-k", "1", "What is the capital of Australia?")
    assert out.splitlines()[1] == "   No confident answer in the articles. Closest passages:"
    assert "(weak match)" in out


def test_questions_come_from_standard_input_one_per_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = io.BytesIO(b"Who is in charge?\n\n  \nHow many coups?\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(typed, encoding="utf-8"))
    monkeypatch.setenv("SEEDS_DIR", str(SEEDS))
    status, out, _ = run(capsys, "ask", "--json")
    assert status == 0
    assert [json.loads(line)["question"] for line in out.splitlines()] == ["Who is in charge?", "How many coups?"]


def test_index_reports_articles_and_skipped_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    seeds = write_articles(tmp_path, {"a.txt": "Rain fell. Rivers rose.", "empty.txt": ""})
    status, out, err = run(capsys, "index", "--seeds", str(seeds), "--no-cache")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"Indexed 1 article from {seeds}: 2 sentences, 4 tokens, in ")
    assert lines[1:] == [
        "Skipped 1 file:",
        "  empty.txt: no text to index (the file is empty or holds only headers)",
        "Sentence vectors (all-MiniLM-L6-v2): 2 of 2 sentences, 2 computed now.",
    ]
    status, out, err = run(capsys, "index", "--seeds", str(seeds), "--no-cache", "--lexical")
    assert out.splitlines()[-1] == "Sentence vectors: not used (--lexical or SEMANTIC=off): answers by words only."


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["index", "--seeds", "{empty}"], 1, "qa-bot: No usable article in {empty}: add .txt or .md files there"),
        (["index", "--seeds", "{missing}"], 1, "qa-bot: The seeds folder {missing} does not exist"),
        (["ask", "--seeds", "{missing}", "x"], 2, "qa-bot: The seeds folder {missing} does not exist"),
        (["ask", "--seeds", "{empty}", "  "], 2, "qa-bot: the question is empty: ask something"),
        (["ask", "-k", "0", "x"], 2, "qa-bot: -k must be at least 1 (got 0)"),
    ],
)
def test_user_errors_are_one_line_and_a_nonzero_status(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], status: int, message: str
) -> None:
    paths = {"empty": str(tmp_path), "missing": str(tmp_path / "missing")}
    got, out, err = run(capsys, *(a.format(**paths) for a in argv))
    assert (got, out) == (status, "")
    assert err.startswith(message.format(**paths))
    assert err.count("\n") == 1


@pytest.mark.parametrize(("argv", "status"), [(["ask", "x"], 2), (["index"], 1), (["stats"], 2), (["run"], 2)])
def test_a_malformed_semantic_setting_is_refused_alike_by_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], status: int
) -> None:
    monkeypatch.setenv("SEMANTIC", "abc")
    monkeypatch.setenv("DISCORD_TOKEN", "MTEx.not-a-real.token")
    got, out, err = run(capsys, *argv)  # `index` fails with 1 as for any build it cannot make
    assert (got, out, err) == (status, "", "qa-bot: SEMANTIC must be true or false (got 'abc'); fix it in .env.\n")


def test_the_installed_command_runs_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--seeds", str(tmp_path / "nope"), "x"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    missing = tmp_path / "nope"
    assert done.stderr == f"qa-bot: The seeds folder {missing} does not exist: check --seeds, or create it.\n"


def test_a_missing_seeds_dir_names_the_setting_it_came_from(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDS_DIR", str(tmp_path / "gone"))
    status, out, err = run(capsys, "index")
    assert (status, out) == (1, "")
    gone = tmp_path / "gone"
    assert err == f"qa-bot: The seeds folder {gone} does not exist: create it, or set SEEDS_DIR to your articles.\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "--seeds", str(SEEDS), "--no-cache", "How many coups?"],
        ["ask", "--seeds", str(SEEDS), "--no-cache", "--json", "How many coups?"],
        ["index", "--seeds", str(SEEDS), "--no-cache"],
    ],
)
@pytest.mark.slow
def test_a_full_disk_is_one_line_and_exit_1(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "bot", *argv], stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=60
        )
    assert (done.returncode, done.stderr) == (
        1,
        "qa-bot: could not write to standard output (No space left on device): free some space, "
        "or send the output elsewhere.\n",
    )


def test_a_folder_of_unusable_files_lists_each_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    seeds = write_articles(tmp_path / "seeds", {"empty.txt": "", "notes.pdf": "x"})
    (seeds / "latin1.md").write_bytes(b"caf\xe9")
    status, out, err = run(capsys, "index", "--seeds", str(seeds), "--no-cache")
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        f"qa-bot: No usable article in {seeds}: add .txt or .md files there, or fix these 3 files:",
        "  empty.txt: no text to index (the file is empty or holds only headers)",
        "  latin1.md: not UTF-8 text (bad byte at offset 3): save it as UTF-8",
        "  notes.pdf: not an article: only .txt and .md files are read",
    ]


def test_many_unusable_files_list_the_first_ten(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    seeds = write_articles(tmp_path / "seeds", {f"{n:02}.txt": "" for n in range(12)})
    _, _, err = run(capsys, "index", "--seeds", str(seeds), "--no-cache")
    lines = err.splitlines()
    assert lines[0].endswith("or fix these 12 files:")
    assert lines[1:] == [
        *(f"  {n:02}.txt: no text to index (the file is empty or holds only headers)" for n in range(10)),
        "  … and 2 more.",
    ]


def test_one_unusable_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    seeds = write_articles(tmp_path / "seeds", {"empty.txt": ""})
    _, _, err = run(capsys, "ask", "--seeds", str(seeds), "x")
    assert err.splitlines() == [
        f"qa-bot: No usable article in {seeds}: add .txt or .md files there, or fix this file:",
        "  empty.txt: no text to index (the file is empty or holds only headers)",
    ]


@pytest.mark.parametrize("command", ["index", "ask"])
def test_seeds_naming_a_file_says_it_is_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    article = write_articles(tmp_path, {"a.txt": "Rain fell."}) / "a.txt"
    _, out, err = run(capsys, command, "--seeds", str(article), *(["x"] if command == "ask" else []))
    assert (out, err) == (
        "",
        f"qa-bot: The seeds folder {article} is a file, not a folder: give the folder that holds the articles.\n",
    )
