"""A seeds folder full of bad files: the build finishes, uses every good article, skips the rest
with one reason each, never opens anything outside the folder, and keeps memory bounded."""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import tempfile
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import index.articles.article as articles
import index.articles.folder as folders
import index.storage.build
import tests.hypothesis_profile  # noqa: F401  (loads the suite's hypothesis settings)
from bot.cli import main
from index import build_index, load_articles
from index.articles.folder import MAX_ARTICLE_BYTES
from index.articles.text import MAX_SENTENCE_CHARS

SMALL_FILES = 3_000
RUN_CHARS = 200_000
HUGE_BYTES = 50_000_000
# Peak Python allocation while indexing the whole hostile folder (about 3,010 articles);
# measured at about 13 MB, far below the 50 MB file that must not be read.
PEAK_BYTES_BOUND = 32_000_000

GOOD_ALPHA = "Title: Harvest report\nDate: 2024-03-01\nUrl: https://example.com/harvest\n\nThe kumquat harvest rose.\n"
OUTSIDE_SECRET = "The zanzibarite password is hidden outside the seeds folder.\n"

# Every bad file and the one reason it is skipped for.
EXPECTED_SKIPS = {
    "latin1.txt": "not UTF-8 text (bad byte at offset 3): save it as UTF-8",
    "binary.txt": "binary file, not text",
    "utf16.txt": "UTF-16 text: save it as UTF-8",
    "photo.jpg": "not an article: only .txt and .md files are read",
    "empty.txt": "no text to index (the file is empty or holds only headers)",
    "blank.md": "no text to index (the file is empty or holds only headers)",
    "huge.txt": f"too large ({HUGE_BYTES:,} bytes; the limit is {MAX_ARTICLE_BYTES:,}): split it into smaller articles",
    "link-to-outside-file.txt": "link to outside the seeds folder, not followed",
    "link-to-outside-folder": "link to outside the seeds folder, not followed",
    "link-to-inside-folder": "link to a folder, not followed",
    "link-to-alpha.txt": "same content as good/alpha.txt",
    "loop-a.txt": "broken or looping link",
    "loop-b.txt": "broken or looping link",
    "loop-self.txt": "broken or looping link",
    "dangling.txt": "broken or looping link",
    "vanishing.txt": "disappeared while the folder was being read",
    "swapped.txt": "replaced by a link while the folder was being read, not followed",
    "fifo.txt": "not a regular file (a pipe, socket or device)",
    "good/copy-of-alpha.txt": "same content as good/alpha.txt",
    "good/crlf-copy-of-alpha.txt": "same content as good/alpha.txt",
    "bad\\x0aname.txt": "its name holds control characters or non-UTF-8 bytes: rename it",
    "caf\\udce9.txt": "its name holds control characters or non-UTF-8 bytes: rename it",
}
GOOD_IDS = {
    "good/alpha.txt",
    "good/beta.md",
    "run-without-punctuation.txt",
    "right-to-left.txt",
    "zero-width.txt",
    "header-traps.txt",
    *(f"many/{n:04}.txt" for n in range(SMALL_FILES)),
}


@dataclass
class HostileFolder:
    seeds: Path
    outside: Path
    opened: list[str] = field(default_factory=list)
    bytes_read: dict[str, int] = field(default_factory=dict)


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _make_folder(tmp_path: Path) -> HostileFolder:
    seeds, outside = tmp_path / "seeds", tmp_path / "outside"
    _write(outside / "secret.txt", OUTSIDE_SECRET)
    _write(outside / "folder" / "secret.txt", OUTSIDE_SECRET)

    _write(seeds / "good" / "alpha.txt", GOOD_ALPHA)
    _write(seeds / "good" / "beta.md", "# Beta\n\nThe lighthouse keeper counted eleven ships.\n")
    words = " ".join(f"word{n % 977}" for n in range(RUN_CHARS // 7))
    ending = " terminusword"
    _write(seeds / "run-without-punctuation.txt", words[: RUN_CHARS - len(ending)] + ending)
    _write(
        seeds / "right-to-left.txt",
        "\u202eالقاهرة مدينة كبيرة. \u200fירושלים עיר עתיקה.\n\nThe Cairo bureau filed it.\n",
    )
    _write(seeds / "zero-width.txt", "The Ni\u200bger\u200d delta floods each au\u2060tumn.\n")
    # A header line of 100,000 spaces (a regex-backtracking trap) and a 5,000-digit tail.
    _write(seeds / "header-traps.txt", "title:" + " " * 100_000 + "x\n\nThe tail is long." + "9" * 5_000)
    (seeds / "many").mkdir()
    for n in range(SMALL_FILES):
        with open(seeds / "many" / f"{n:04}.txt", "w", encoding="utf-8") as small:
            small.write(f"Dispatch {n} reports the catch of fish{n}.\n")

    _write(seeds / "latin1.txt", "Café crème au lait.".encode("latin-1"))
    _write(seeds / "binary.txt", bytes(range(256)) * 4)
    _write(seeds / "utf16.txt", "A sentence in UTF-16.".encode("utf-16"))
    _write(seeds / "photo.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
    _write(seeds / "empty.txt", b"")
    _write(seeds / "blank.md", " \n\t\n  \r\n")
    with (seeds / "huge.txt").open("wb") as huge:
        huge.truncate(HUGE_BYTES)  # sparse: instant, and reading it would cost 50 MB
    _write(seeds / "good/copy-of-alpha.txt", GOOD_ALPHA)
    _write(seeds / "good/crlf-copy-of-alpha.txt", GOOD_ALPHA.replace("\n", "\r\n"))
    os.mkfifo(seeds / "fifo.txt")
    _write(seeds / ".hidden.txt", "Hidden files are ignored.\n")
    _write(seeds / ".git" / "notes.txt", "Hidden folders are ignored.\n")
    _write(seeds / "bad\nname.txt", "A name with a newline.\n")
    _write(Path(os.fsdecode(os.fsencode(seeds) + b"/caf\xe9.txt")), "A Latin-1 file name.\n")

    (seeds / "link-to-outside-file.txt").symlink_to(outside / "secret.txt")
    (seeds / "link-to-outside-folder").symlink_to(outside / "folder", target_is_directory=True)
    (seeds / "link-to-inside-folder").symlink_to(seeds / "good", target_is_directory=True)
    (seeds / "link-to-alpha.txt").symlink_to("good/alpha.txt")
    (seeds / "loop-a.txt").symlink_to("loop-b.txt")
    (seeds / "loop-b.txt").symlink_to("loop-a.txt")
    (seeds / "loop-self.txt").symlink_to("loop-self.txt")
    (seeds / "dangling.txt").symlink_to("nowhere.txt")
    return HostileFolder(seeds, outside)


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory: pytest.TempPathFactory) -> HostileFolder:
    return _make_folder(tmp_path_factory.mktemp("hostile"))  # 3,000 files: made once


@pytest.fixture
def hostile(hostile_folder: HostileFolder, monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileFolder]:
    folder = HostileFolder(hostile_folder.seeds, hostile_folder.outside)
    for name in ("vanishing.txt", "swapped.txt"):
        (folder.seeds / name).unlink(missing_ok=True)
        _write(folder.seeds / name, f"{name} changes after the listing.\n")

    # Between the listing and the reading, one file disappears and one becomes a link out.
    real_candidates = folders._Listing.candidates

    def candidates_then_change(self: folders._Listing) -> list[folders._Candidate]:
        found = real_candidates(self)
        if (folder.seeds / "vanishing.txt").exists():
            (folder.seeds / "vanishing.txt").unlink()
            (folder.seeds / "swapped.txt").unlink()
            (folder.seeds / "swapped.txt").symlink_to(folder.outside / "secret.txt")
        return found

    monkeypatch.setattr(folders._Listing, "candidates", candidates_then_change)

    # Record the real path of everything opened, however it was named.
    real_os_open, real_io_open = os.open, io.open

    def recording_os_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        fd = real_os_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
        folder.opened.append(os.readlink(f"/proc/self/fd/{fd}"))
        return fd

    def recording_io_open(file: object, *args: object, **kwargs: object) -> object:
        handle = real_io_open(file, *args, **kwargs)  # type: ignore[call-overload]
        if isinstance(file, int):
            folder.opened.append(os.readlink(f"/proc/self/fd/{file}"))
        else:
            folder.opened.append(os.path.realpath(file))  # type: ignore[arg-type]
        return handle

    real_read = os.read

    def recording_read(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        path = os.readlink(f"/proc/self/fd/{fd}")
        folder.bytes_read[path] = folder.bytes_read.get(path, 0) + len(data)
        return data

    monkeypatch.setattr(os, "open", recording_os_open)
    monkeypatch.setattr(os, "read", recording_read)
    monkeypatch.setattr(io, "open", recording_io_open)
    monkeypatch.setattr("builtins.open", recording_io_open)

    # A FIFO opened without O_NONBLOCK would wait forever for a writer: fail instead of hanging.
    # (A hang guard, not a speed limit: the build takes well under a second.)
    def timeout(signum: int, frame: object) -> None:
        raise TimeoutError("the build blocked")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(300)
    yield folder
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.slow
def test_build_uses_every_good_article_and_skips_each_bad_file_once(
    hostile: HostileFolder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="index")
    tracemalloc.start()
    try:
        index, report = build_index(hostile.seeds, use_cache=False)  # the saved index is tested apart
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert {a.id for a in index.articles} == GOOD_IDS
    assert report.articles == len(GOOD_IDS)
    skipped = {s.path: s.reason for s in report.skipped}
    assert len(report.skipped) == len(skipped)  # one reason per file
    assert skipped == EXPECTED_SKIPS
    # One log line per skipped file, naming it and its reason.
    warnings = [r.getMessage() for r in caplog.records if r.name == "index.folder"]
    assert sorted(warnings) == sorted(f"Skipped {path}: {reason}" for path, reason in EXPECTED_SKIPS.items())
    assert all("\n" not in line for line in warnings)

    root = str(hostile.seeds.resolve())
    assert hostile.opened, "the recorder saw no open"
    # Beside the articles, only the index's own file (a temporary one: use_cache=False) is opened.
    own = os.path.join(tempfile.gettempdir(), "qa-bot-index-")
    outside = [p for p in hostile.opened if p != root and not p.startswith((root + os.sep, own))]
    assert outside == []
    assert hostile.bytes_read.get(str(hostile.seeds.resolve() / "huge.txt"), 0) == 0
    assert sum(hostile.bytes_read.values()) < 1_000_000
    assert peak < PEAK_BYTES_BOUND, f"peak traced allocation {peak:,} bytes"

    # What was indexed is searchable, whatever its shape.
    by_id = {a.id: a for a in index.articles}

    run = by_id["run-without-punctuation.txt"]
    assert all(0 < len(s) <= MAX_SENTENCE_CHARS for s in run.sentences)
    assert len(run.sentences) >= RUN_CHARS // MAX_SENTENCE_CHARS
    assert index.search("terminusword", 1)[0].article == "run-without-punctuation.txt"

    # Zero-width marks do not split words; right-to-left text is searchable.
    assert index.search("Niger delta", 1)[0].article == "zero-width.txt"
    assert index.search("ירושלים", 1)[0].article == "right-to-left.txt"
    assert index.search("القاهرة", 1)[0].article == "right-to-left.txt"
    # The trap header is read in linear time; the 5,000 digits are text, cut into sentences.
    traps = by_id["header-traps.txt"]
    assert traps.title == "x"
    assert "".join(traps.sentences).replace(" ", "") == "Thetailislong." + "9" * 5_000

    assert by_id["good/alpha.txt"].url == "https://example.com/harvest"
    assert index.search("zanzibarite password", 3) == []
    assert index.search("fish2999", 1)[0].article == "many/2999.txt"


@pytest.mark.slow
def test_index_command_lists_each_skipped_file_once(hostile: HostileFolder, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", "--seeds", str(hostile.seeds)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Indexed {len(GOOD_IDS):,} articles from {hostile.seeds}: ")
    assert f"Skipped {len(EXPECTED_SKIPS)} files:" in out
    for path, reason in EXPECTED_SKIPS.items():
        assert out.count(f"\n  {path}: ") == 1
        assert f"\n  {path}: {reason}\n" in out + "\n"


def test_javascript_urls_and_huge_headers_do_not_reach_citations(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", "Title: T\nUrl: javascript:alert(1)\n\nBody text here.\n")
    _write(tmp_path / "b.txt", "Title: " + "long " * 100 + "\nUrl: https://x.test/" + "a" * 3_000 + "\n\nBody two.\n")
    found, skipped = load_articles(tmp_path)
    assert skipped == []
    assert [(a.id, a.url) for a in found] == [("a.txt", None), ("b.txt", None)]
    assert found[1].title == ("long " * 59).strip() + "…"
    assert len(found[1].title) <= articles.MAX_HEADER_CHARS


def test_control_characters_in_articles_become_spaces(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", "Red\x1b[31m alert\x07 sounded.\x85Then\u009b quiet.\n")
    (article,), _ = load_articles(tmp_path)
    assert article.sentences == ("Red [31m alert sounded.", "Then quiet.")


def test_entry_limit_stops_the_walk_with_one_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folders, "MAX_FILES", 5)
    for n in range(8):
        _write(tmp_path / f"{n}.txt", f"Article number{n} here.\n")
    found, skipped = load_articles(tmp_path)
    # Which five depends on the file system's listing order; the walk reads no more.
    assert len(found) == 5
    assert {a.id for a in found} < {f"{n}.txt" for n in range(8)}
    assert [(s.path, s.reason) for s in skipped] == [
        (".", "more than 5 files and folders: the rest of the folder was not read: keep fewer, larger articles")
    ]


def test_total_byte_limit_skips_the_articles_past_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folders, "MAX_TOTAL_BYTES", 50)
    for n in range(3):
        _write(tmp_path / f"{n}.txt", f"Article number{n} is twenty-odd bytes.\n")  # 37 bytes each
    found, skipped = load_articles(tmp_path)
    assert [a.id for a in found] == ["0.txt"]
    reason = "over the limit of 50 bytes for all articles together: keep fewer articles"
    assert [(s.path, s.reason) for s in skipped] == [("1.txt", reason), ("2.txt", reason)]


def test_a_file_growing_past_the_limit_while_read_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folders, "MAX_ARTICLE_BYTES", 10)
    _write(tmp_path / "a.txt", "short")
    real_fstat = os.fstat
    # fstat sees the old size; the read finds more.
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 5, *real_fstat(fd)[7:])))
    _write(tmp_path / "a.txt", "much longer now")
    found, skipped = load_articles(tmp_path)
    assert found == []
    assert skipped[0].reason.startswith("too large (11 bytes; the limit is 10)")


def test_an_unexpected_error_costs_one_file_not_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path / "a.txt", "First article.\n")
    _write(tmp_path / "b.txt", "Second article.\n")
    real_read = index.storage.build.read_article

    def read(article_id: str, data: bytes) -> tuple[articles.Article, list[str]]:
        if article_id == "a.txt":
            raise KeyError("a bug")
        return real_read(article_id, data)

    monkeypatch.setattr(index.storage.build, "read_article", read)
    found, skipped = load_articles(tmp_path)
    assert [a.id for a in found] == ["b.txt"]
    assert skipped == [articles.Skipped("a.txt", "unexpected error while reading it (logged): please report it")]
    logged = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Unexpected error while reading a.txt")
    ]
    assert len(logged) == 1 and "KeyError: 'a bug'" in logged[0]


def test_seeds_folder_reached_through_a_link_is_read(tmp_path: Path) -> None:
    _write(tmp_path / "real" / "a.txt", "An article.\n")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    found, skipped = load_articles(tmp_path / "alias")
    assert ([a.id for a in found], skipped) == (["a.txt"], [])


def test_the_repository_seed_still_parses_as_before(tmp_path: Path) -> None:
    # The repository's own seed parses with the hardened reader exactly as before.
    shutil.copytree(Path(__file__).parent.parent.parent / "seeds", tmp_path / "seeds")
    found, skipped = load_articles(tmp_path / "seeds")
    assert skipped == []
    assert [len(a.sentences) for a in found] == [33]


def test_folders_nested_too_deep_are_not_read(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["d"] * (folders.MAX_DEPTH + 1)))
    _write(deep.parent / "last-read.txt", "The deepest article read.\n")
    _write(deep / "too-deep.txt", "Never read.\n")
    found, skipped = load_articles(tmp_path)
    assert [a.id for a in found] == ["/".join(["d"] * folders.MAX_DEPTH) + "/last-read.txt"]
    folder = "/".join(["d"] * (folders.MAX_DEPTH + 1))
    assert skipped == [articles.Skipped(folder, f"folder nested more than {folders.MAX_DEPTH} deep, not read")]


def test_an_unreadable_seeds_folder_is_one_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    assert load_articles(tmp_path) == (
        [],
        [articles.Skipped(".", "folder unreadable: permission denied: let the bot's user read it")],
    )


def test_file_by_file_reading_keeps_the_same_rules(tmp_path: Path) -> None:
    # The build reads file by file through SeedsFolder.
    seeds, outside = tmp_path / "seeds", tmp_path / "outside.txt"
    _write(seeds / "a.txt", "An article.\n")
    _write(seeds / "notes.csv", "not an article")
    _write(outside, OUTSIDE_SECRET)
    (seeds / "out.txt").symlink_to(outside)
    os.mkfifo(seeds / "pipe.txt")
    with folders.SeedsFolder(seeds) as folder:
        assert folder.candidates() == ["a.txt", "out.txt", "pipe.txt"]
        assert [folder.read(name) for name in ("a.txt", "out.txt", "pipe.txt")] == [b"An article.\n", None, None]
    assert folder.skipped == [
        articles.Skipped("notes.csv", "not an article: only .txt and .md files are read"),
        articles.Skipped("out.txt", "link to outside the seeds folder, not followed"),
        articles.Skipped("pipe.txt", "not a regular file (a pipe, socket or device)"),
    ]


name_part = st.text(
    st.one_of(st.characters(exclude_characters="/\x00", exclude_categories=("Cs",)), st.sampled_from("\n\u202e ._-")),
    min_size=1,
    max_size=12,
).filter(lambda part: part not in (".", "..") and len(part.encode()) < 200)
file_names = st.builds(
    lambda folders, stem, suffix: "/".join([*folders, stem + suffix]),
    st.lists(name_part, max_size=2),
    name_part,
    st.sampled_from([".txt", ".md", ".TXT", ".csv", ""]),
)
file_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"", b" \n", b"Title: t\n\nA sentence.", "Caf\xe9".encode("latin-1")]),
)


@pytest.mark.slow
@settings(max_examples=60)
@given(st.dictionaries(file_names, file_bytes, max_size=12))
def test_every_file_of_any_folder_is_indexed_or_skipped_exactly_once(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        written: set[str] = set()
        for name, data in files.items():
            path = root / name
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                continue  # a name that is also a folder of another name
            written.add(name)
        found, skipped = load_articles(root)
        shown = [a.id for a in found] + [s.path for s in skipped]
        assert len(shown) == len(set(shown))  # one outcome per file
        expected = {_outcome_path(name) for name in written} - {None}
        assert set(shown) == {articles.printable(path) for path in expected if path is not None}


def _outcome_path(name: str) -> str | None:
    """Where a file's one outcome is reported: itself, the first folder above it that was skipped whole,
    or nowhere when it is hidden or under a hidden folder (ignored, as documented)."""
    parts = name.split("/")
    for depth, part in enumerate(parts, start=1):
        if part.startswith("."):
            return None
        if folders._BAD_NAME_CHARS.search(part):
            return "/".join(parts[:depth])
    return name
