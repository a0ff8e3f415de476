"""Adding articles (index.ingest and `qa-bot add`): conversion, safe names, no overwrite, atomic writes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bot.cli import main
from index import build_index
from index.articles.ingest import (
    MAX_FILE_BYTES,
    ArticleExists,
    IngestError,
    add_article,
    file_name,
    prepare,
    remove_article,
)

PAGE = (Path(__file__).parent.parent / "data" / "news_page.html").read_bytes()  # also `qa-bot add` in .ci/wheel
HARBOUR_TEXT = (
    "title: Harbour reopens after the storm\ndate: 2024-03-02\nurl: https://example.com/harbour\n"
    "source: example.com\n\n"
    "The harbour reopened on Monday after a week of repairs. Fishing boats returned to the quay at dawn.\n\n"
    "The mayor thanked the volunteers who cleared the wreckage. Insurance claims are still being assessed."
)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_news_page_becomes_its_text_with_the_pages_title_date_and_url(tmp_path):
    added = add_article(tmp_path, "saved page.html", PAGE)
    assert (added.name, added.title, added.date, added.url) == (
        "harbour-reopens-after-the-storm.txt",
        "Harbour reopens after the storm",
        "2024-03-02",
        "https://example.com/harbour",
    )
    assert added.sentences == 4
    assert (tmp_path / added.name).read_text("utf-8") == HARBOUR_TEXT  # no menu, footer or repeated headline
    index, _ = build_index(tmp_path, use_cache=False)
    assert index.ask("When did the boats return?", 1).hits[0].sentence == 2


def test_a_text_file_is_kept_byte_for_byte_and_named_after_its_title(tmp_path):
    data = "\ufefftitle: Town library extends its hours\ndate: 2024-04-10\n\nThe library opens on Sundays.".encode()
    added = add_article(tmp_path, "whatever-they-called-it.TXT", data)
    assert added.name == "town-library-extends-its-hours.txt"
    assert (tmp_path / added.name).read_bytes() == data
    assert (added.title, added.date, added.sentences, added.replaced) == (
        "Town library extends its hours",
        "2024-04-10",
        1,
        False,
    )


def test_options_replace_the_files_own_metadata(tmp_path):
    data = b"title: Old title\nsource: Example\n\nFirst sentence. Second sentence."
    added = add_article(tmp_path, "a.md", data, title="New\ntitle", date="2024-05-01", url="https://example.com/x")
    assert added.name == "new-title.md"
    assert (tmp_path / added.name).read_text("utf-8") == (
        "title: New title\ndate: 2024-05-01\nurl: https://example.com/x\nsource: Example\n\n"
        "First sentence. Second sentence."
    )


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("../../etc/passwd", "etc-passwd.txt"),
        ("/absolute/path.txt", "absolute-path-txt.txt"),
        (".hidden", "hidden.txt"),
        ("Niger’s coup: what we know", "nigers-coup-what-we-know.txt"),
        ("Élections à Niamey", "elections-a-niamey.txt"),
        ("a" * 200, "a" * 60 + ".txt"),
        ("word " * 40, "word-" * 11 + "word.txt"),
    ],
)
def test_file_names_are_made_from_the_title_never_taken_from_the_user(title, name):
    assert file_name(title, ".txt") == name


def test_a_title_in_another_script_is_transliterated_and_one_of_symbols_named_by_its_digest():
    assert file_name("尼日尔政变", ".txt") == "ni-ri-er-zheng-bian.txt"
    assert file_name("Путин встретился с журналистами", ".md") == "putin-vstretilsia-s-zhurnalistami.md"
    name = file_name("🙂 → 🙂", ".txt")
    assert name.startswith("article-") and name.endswith(".txt") and len(name) == len("article-") + 12 + 4


def test_an_existing_article_is_never_overwritten_unless_replace(tmp_path):
    add_article(tmp_path, "a.txt", b"title: Same\n\nFirst version.")
    with pytest.raises(ArticleExists, match=r"same\.txt already exists"):
        add_article(tmp_path, "b.txt", b"title: Same\n\nSecond version.")
    assert (tmp_path / "same.txt").read_bytes() == b"title: Same\n\nFirst version."
    replaced = add_article(tmp_path, "b.txt", b"title: Same\n\nSecond version.", replace=True)
    assert replaced.replaced
    assert (tmp_path / "same.txt").read_bytes() == b"title: Same\n\nSecond version."
    assert listing(tmp_path) == ["same.txt"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.pdf", b"%PDF-1.4", r"Only \.txt, \.md and \.html files"),
        ("a.txt", b"x" * (MAX_FILE_BYTES + 1), r"too large \(2,000,001 bytes; the limit is 2,000,000\)"),
        ("a.txt", b"caf\xe9 au lait", r"not UTF-8 text \(bad byte at offset 3\)"),
        ("a.txt", "hello".encode("utf-16"), "UTF-16"),
        ("a.txt", b"\x00\x01\x02binary", "not text"),
        ("a.html", b"\x00\x01\x02binary", "not text"),
        ("a.txt", b"title: Only a title\n\n   ", "cannot be used as an article: no text to index"),
        (
            "a.html",
            b"<html><head><title>T</title></head><body><script>x=1</script></body></html>",
            "No article text",
        ),
    ],
)
def test_unusable_files_are_refused_with_one_sentence(tmp_path, name, data, message):
    with pytest.raises(IngestError, match=message):
        add_article(tmp_path, name, data)
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("date", "27/07/2023", "YYYY-MM-DD"), ("date", "2023-02-30", "YYYY-MM-DD"), ("url", "javascript:x", "http")],
)
def test_bad_options_are_refused(tmp_path, option, value, message):
    with pytest.raises(IngestError, match=message):
        prepare("a.txt", b"Some text.", **{option: value})


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (errno.EROFS, "may not write to the seeds folder"),
        (errno.EACCES, "may not write to the seeds folder"),
        (errno.ENOSPC, "disk holding the seeds folder is full"),
        (errno.EDQUOT, "disk holding the seeds folder is full"),
    ],
)
def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch, code, message):
    (tmp_path / "kept.txt").write_text("Kept article.")
    real_write = os.write
    written = []

    def failing_write(fd, data):
        written.append(real_write(fd, bytes(data[:10])))  # part of the file reaches the disk, then it fails
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(IngestError, match=message):
        add_article(tmp_path, "a.txt", b"title: New\n\nSome text that will not fit.")
    assert written == [10]
    assert listing(tmp_path) == ["kept.txt"]  # no temporary file, no half article


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP])
def test_a_folder_without_hard_links_gets_the_article_all_the_same(tmp_path, monkeypatch, code):
    """FAT and some network shares refuse link() (FAT with EPERM): the article is renamed into place."""

    def no_links(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "link", no_links)
    added = add_article(tmp_path, "a.txt", b"title: Same\n\nFirst version.")
    assert added.name == "same.txt" and listing(tmp_path) == ["same.txt"]  # no temporary file left
    with pytest.raises(ArticleExists, match=r"same\.txt already exists"):
        add_article(tmp_path, "b.txt", b"title: Same\n\nSecond version.")
    assert (tmp_path / "same.txt").read_bytes() == b"title: Same\n\nFirst version."
    assert listing(tmp_path) == ["same.txt"]


def test_a_read_only_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(IngestError, match="may not write to the seeds folder"):
        add_article(tmp_path, "a.txt", b"Some text.")
    assert listing(tmp_path) == []


def test_remove_moves_the_file_into_the_hidden_removed_folder(tmp_path):
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "a.txt").write_text("First.")
    (tmp_path / "b.txt").write_text("Second.")
    assert remove_article(tmp_path, "news/a.txt") == tmp_path / ".removed" / "a.txt"
    (tmp_path / "news" / "a.txt").write_text("First again.")
    assert remove_article(tmp_path, "news/a.txt") == tmp_path / ".removed" / "a-2.txt"
    assert listing(tmp_path) == [".removed", ".removed/a-2.txt", ".removed/a.txt", "b.txt", "news"]
    assert (tmp_path / ".removed" / "a.txt").read_text() == "First."
    index, _ = build_index(tmp_path, use_cache=False)
    assert [a.id for a in index.articles] == ["b.txt"]  # hidden folders are not indexed


@pytest.mark.parametrize("article_id", ["", "../b.txt", "news/../../b.txt", ".removed/a.txt", "/etc/passwd"])
def test_remove_refuses_anything_but_an_article_path(tmp_path, article_id):
    with pytest.raises(IngestError, match="not an article of the seeds folder"):
        remove_article(tmp_path, article_id)


@pytest.mark.parametrize("swapped", ["news", "news/deep", ".removed"])
def test_remove_never_follows_a_folder_swapped_for_a_link_out_of_the_seeds_folder(tmp_path, swapped):
    """Issue 23, finding 4: a folder on the article's path (or .removed/) replaced by a link after the build."""
    seeds, outside = tmp_path / "seeds", tmp_path / "outside"
    (seeds / "news" / "deep").mkdir(parents=True)
    (seeds / "news" / "deep" / "a.txt").write_text("Indexed.")
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "a.txt").write_text("Not an article of the seeds folder.")
    (outside / "a.txt").write_text("Not an article of the seeds folder either.")
    moved = seeds / swapped
    if moved.exists():
        moved.rename(tmp_path / "set-aside")
    moved.symlink_to(outside / "deep" if swapped == "news/deep" else outside, target_is_directory=True)
    before = sorted(str(p.relative_to(outside)) for p in outside.rglob("*"))

    with pytest.raises(IngestError) as raised:
        remove_article(seeds, "news/deep/a.txt")
    assert str(raised.value) == (
        "A folder on the way to news/deep/a.txt (or .removed/) is now a link, which is never followed: "
        "make it a plain folder again, then run /reload."
    )
    assert sorted(str(p.relative_to(outside)) for p in outside.rglob("*")) == before  # nothing moved or made
    assert (outside / "deep" / "a.txt").read_text() == "Not an article of the seeds folder."


def test_remove_moves_an_article_that_is_a_link_as_the_link(tmp_path):
    (tmp_path / "a.txt").write_text("The article.")
    (tmp_path / "b.txt").symlink_to("a.txt")
    assert remove_article(tmp_path, "b.txt") == tmp_path / ".removed" / "b.txt"
    assert (tmp_path / ".removed" / "b.txt").is_symlink()
    assert (tmp_path / "a.txt").read_text() == "The article."


def test_remove_of_a_vanished_file_says_so(tmp_path):
    with pytest.raises(IngestError, match="no longer in the seeds folder"):
        remove_article(tmp_path, "gone.txt")


def test_the_command_line_adds_files_and_reports_each(tmp_path, capsys):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (tmp_path / "page.html").write_bytes(PAGE)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    code = main(["add", "--seeds", str(seeds), str(tmp_path / "page.html"), str(tmp_path / "notes.pdf")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == (
        f"Added {seeds / 'harbour-reopens-after-the-storm.txt'}: “Harbour reopens after the storm”, example.com, "
        "2024-03-02, "
        "4 sentences.\nThe running bot serves it after /reload (or a restart).\n"
    )
    assert err == (
        f"qa-bot: {tmp_path / 'notes.pdf'}: Only .txt, .md and .html files can be added as articles: "
        "save the article as one of those.\n"
    )
    assert main(["add", "--seeds", str(seeds), str(tmp_path / "page.html")]) == 1
    assert "already exists. Add --replace to replace it." in capsys.readouterr().err
    assert main(["add", "--seeds", str(seeds), "--replace", "--date", "2024-03-03", str(tmp_path / "page.html")]) == 0
    assert "Replaced" in capsys.readouterr().out
    assert "date: 2024-03-03\n" in (seeds / "harbour-reopens-after-the-storm.txt").read_text("utf-8")


def test_the_command_line_refuses_metadata_options_for_several_files(tmp_path, capsys):
    assert main(["add", "--seeds", str(tmp_path), "--title", "T", "a.txt", "b.txt"]) == 2
    assert "one at a time" in capsys.readouterr().err


POST = """---
title: Harbour reopens
date: 2024-03-02
url: https://example.com/harbour
source: The Gazette
---
The harbour reopened on Monday. Ships came back at once.
"""


def test_a_new_title_keeps_the_front_matters_date_url_and_source_and_none_of_it_becomes_text(tmp_path, capsys):
    """Issue 23, finding 7: `--title` on a file with YAML front matter."""
    (tmp_path / "post.md").write_text(POST)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    assert main(["add", "--seeds", str(seeds), "--title", "Storm over, harbour open", str(tmp_path / "post.md")]) == 0
    written = (seeds / "storm-over-harbour-open.md").read_text("utf-8")
    assert written == (
        "title: Storm over, harbour open\ndate: 2024-03-02\nurl: https://example.com/harbour\nsource: The Gazette\n\n"
        "The harbour reopened on Monday. Ships came back at once.\n"
    )
    index, _ = build_index(seeds, use_cache=False)
    [article] = index.articles
    assert (article.title, article.date, article.url, article.source) == (
        "Storm over, harbour open",
        "2024-03-02",
        "https://example.com/harbour",
        "The Gazette",
    )
    assert list(article.sentences) == ["The harbour reopened on Monday.", "Ships came back at once."]
    assert "Storm over, harbour open" in capsys.readouterr().out


def test_adding_a_copy_of_an_article_under_another_name_is_refused_and_the_original_stays_indexed(tmp_path, capsys):
    seeds = tmp_path / "seeds"
    (seeds / "news").mkdir(parents=True)
    (seeds / "news" / "zz-original.md").write_text(POST)
    copy = tmp_path / "a-copy.md"
    copy.write_bytes(POST.replace("\n", "\r\n").encode("utf-8-sig"))  # the same text, saved on another system
    assert main(["add", "--seeds", str(seeds), str(copy)]) == 1
    assert capsys.readouterr() == (
        "",
        f"qa-bot: {copy}: This article is already in the seeds folder as news/zz-original.md, so nothing was "
        "added: remove that one first to add it under another name.\n",
    )
    assert listing(seeds) == ["news", "news/zz-original.md"]
    index, report = build_index(seeds, use_cache=False)
    assert [a.id for a in index.articles] == ["news/zz-original.md"]
    assert report.skipped == ()
    # Another article is added as before, and replaced by itself under its own name.
    (tmp_path / "other.md").write_text(POST.replace("Ships came back", "Boats came back"))
    assert main(["add", "--seeds", str(seeds), str(tmp_path / "other.md")]) == 0
    assert main(["add", "--seeds", str(seeds), "--replace", str(tmp_path / "other.md")]) == 0
    assert capsys.readouterr().out.count("Replaced") == 1
