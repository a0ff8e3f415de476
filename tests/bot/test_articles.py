"""/article add, remove and show through the offline Discord: the attachment is downloaded by discord.py's own
code from the harness's CDN, written by index.articles.ingest, and the index reloads."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from bot.exts.articles import DOWNLOAD_FAILED, LAST_ARTICLE, NOT_ALLOWED, NOT_TEXT, NOTHING_TO_ADD
from testkit.discord_harness import EPHEMERAL, MANAGE_GUILD, MOD_ROLE_ID, Harness, seeds_folder, settings_for
from tests.index.test_ingest import PAGE

DEFERRED_EPHEMERAL = {"type": 5, "data": {"flags": EPHEMERAL}}
RELOADED = re.compile(r"^Reloaded in \d+\.\d\d s: now (\d+) articles?, (\d+) sentences?\.$")
MODERATOR = {"roles": (MOD_ROLE_ID,)}
HARBOUR = "harbour-reopens-after-the-storm.txt"
FIRST_THREE = (
    "The harbour reopened on Monday. Fishing boats returned at dawn. The mayor thanked the volunteers who helped."
)
BODY = FIRST_THREE + " Insurance claims are still being assessed."


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def started(harness, tmp_path, extra=None):
    folder = seeds_folder(tmp_path, extra or {"library.txt": "title: Library\n\nThe library opens on Sundays."})
    events = await harness.start(settings_for(folder))
    events.guild_create()
    return events, folder


async def add(harness, events, filename, data, *, content_type="text/html", status=200, who=None, **options):
    attachment = await harness.cdn.serve(harness.fake.next_id(), filename, data, content_type, status)
    payload = events.subcommand("article", "add", options, attachments={"file": attachment}, **(who or MODERATOR))
    calls = await harness.fake.wait_interaction(payload, 1)
    if calls[0].body == DEFERRED_EPHEMERAL:
        calls = await harness.fake.wait_interaction(payload, 2)
    return calls


def files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


async def test_a_moderator_adds_a_news_page_and_it_is_answered_at_once(tmp_path, harness):
    events, folder = await started(harness, tmp_path)
    defer, reply = await add(harness, events, "Harbour - Example News.html", PAGE)

    assert defer.body == DEFERRED_EPHEMERAL
    assert reply.body["flags"] == EPHEMERAL and reply.body["allowed_mentions"] == {"parse": []}
    lines = reply.body["content"].split("\n")
    assert lines[0] == f"Added “Harbour reopens after the storm” (2024-03-02, 4 sentences) as `{HARBOUR}`."
    assert RELOADED.match(lines[1]).groups() == ("3", str(33 + 1 + 4))
    assert lines[2:] == [f"Added (1): {HARBOUR}", "Removed: none", "Changed: none"]
    [download] = harness.cdn.downloads
    assert download.endswith("/Harbour - Example News.html")
    assert files(folder) == ["000_eed0d9b0ce39977c.txt", HARBOUR, "library.txt"]
    assert events.bot.holder.index.ask("When did the fishing boats return?", 1).hits[0].article == HARBOUR


async def test_an_existing_title_is_refused_unless_replace(tmp_path, harness):
    events, _ = await started(harness, tmp_path)
    await add(harness, events, "a.html", PAGE)
    _, refused = await add(harness, events, "b.html", PAGE)
    assert refused.body["flags"] == EPHEMERAL
    assert refused.body["content"] == (
        f"An article file named {HARBOUR} already exists. Set `replace:True` to replace it, or give another `title:`."
    )
    _, replaced = await add(harness, events, "b.html", PAGE, replace=True, date="2024-03-05")
    assert replaced.body["content"].split("\n")[0] == (
        f"Replaced “Harbour reopens after the storm” (2024-03-05, 4 sentences) as `{HARBOUR}`."
    )
    assert replaced.body["content"].split("\n")[4] == f"Changed (1): {HARBOUR}"


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "expected"),
    [
        ("photo.png", b"\x89PNG\r\n", "image/png", NOT_TEXT),
        ("notes.pdf", b"%PDF-1.4", None, "Only .txt, .md and .html files can be added as articles"),
        (
            "big.txt",
            b"word " * 400_001,
            "text/plain",
            "The file is too large (2,000,005 bytes; the limit is 2,000,000)",
        ),
    ],
)
async def test_files_that_are_not_text_or_too_big_are_refused_before_downloading(
    tmp_path, harness, filename, data, content_type, expected
):
    events, folder = await started(harness, tmp_path)
    before = events.bot.holder.index
    [reply] = await add(harness, events, filename, data, content_type=content_type)

    assert reply.body["data"]["content"].startswith(expected)
    assert reply.body["data"]["flags"] == EPHEMERAL
    assert harness.cdn.downloads == []
    assert files(folder) == ["000_eed0d9b0ce39977c.txt", "library.txt"]
    assert events.bot.holder.index is before


@pytest.mark.parametrize("status", [404, 500])
async def test_a_failed_download_is_one_clear_reply_and_changes_nothing(tmp_path, harness, status):
    events, folder = await started(harness, tmp_path)
    before = events.bot.holder.index
    defer, reply = await add(harness, events, "a.txt", b"title: A\n\nText.", content_type="text/plain", status=status)

    assert defer.body == DEFERRED_EPHEMERAL
    assert reply.body["content"] == DOWNLOAD_FAILED
    assert len(harness.cdn.downloads) == 1
    assert files(folder) == ["000_eed0d9b0ce39977c.txt", "library.txt"]
    assert events.bot.holder.index is before


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.EROFS, "The bot may not write to the seeds folder"),
        (errno.ENOSPC, "The disk holding the seeds folder is full: free some space there, then try again."),
    ],
)
async def test_a_read_only_folder_or_full_disk_changes_nothing(tmp_path, harness, monkeypatch, code, expected):
    events, folder = await started(harness, tmp_path)
    before = events.bot.holder.index
    real_write = os.write

    def failing_write(fd, data):
        if code == errno.ENOSPC:
            real_write(fd, bytes(data[:5]))
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "write", failing_write)
    _, reply = await add(harness, events, "a.html", PAGE)

    assert reply.body["content"].startswith(expected)
    assert files(folder) == ["000_eed0d9b0ce39977c.txt", "library.txt"]
    assert events.bot.holder.index is before


async def test_a_member_without_rights_can_not_add_and_nothing_is_downloaded(tmp_path, harness):
    events, folder = await started(harness, tmp_path)
    [reply] = await add(harness, events, "a.html", PAGE, who={"roles": ()})
    assert reply.body["data"]["content"] == NOT_ALLOWED
    assert harness.cdn.downloads == []
    assert files(folder) == ["000_eed0d9b0ce39977c.txt", "library.txt"]


async def test_manage_server_may_add(tmp_path, harness):
    events, _ = await started(harness, tmp_path)
    _, reply = await add(harness, events, "a.html", PAGE, who={"permissions": MANAGE_GUILD})
    assert reply.body["content"].startswith("Added “Harbour reopens after the storm”")


async def test_remove_moves_the_file_aside_and_reloads(tmp_path, harness):
    events, folder = await started(harness, tmp_path)
    payload = events.subcommand("article", "remove", {"article": "library.txt"}, **MODERATOR)
    defer, reply = await harness.fake.wait_interaction(payload, 2)

    assert defer.body == DEFERRED_EPHEMERAL
    lines = reply.body["content"].split("\n")
    assert lines[0] == (
        "Removed “Library”: `library.txt` moved to `.removed/library.txt` "
        "(move it back into the seeds folder and /reload to restore it)."
    )
    assert RELOADED.match(lines[1]).groups() == ("1", "33")
    assert lines[3] == "Removed (1): library.txt"
    assert files(folder) == [".removed", ".removed/library.txt", "000_eed0d9b0ce39977c.txt"]


async def test_the_last_article_is_not_removed(tmp_path, harness):
    events, _ = await started(harness, tmp_path, extra={"only.txt": "title: Only\n\nThe only one."})
    (events.bot.holder.folder / "000_eed0d9b0ce39977c.txt").unlink()
    await events.bot.holder.reload()
    assert [a.id for a in events.bot.holder.index.articles] == ["only.txt"]
    payload = events.subcommand("article", "remove", {"article": "only.txt"}, **MODERATOR)
    [reply] = await harness.fake.wait_interaction(payload, 1)
    assert reply.body["data"]["content"] == LAST_ARTICLE


async def test_show_gives_metadata_file_sentences_and_the_first_sentences(tmp_path, harness):
    events, _ = await started(
        harness,
        tmp_path,
        {"harbour.txt": "title: Harbour\ndate: 2024-03-02\nurl: https://example.com/h\n\n" + BODY},
    )
    payload = events.subcommand("article", "show", {"article": "Harbour"}, **MODERATOR)
    [reply] = await harness.fake.wait_interaction(payload, 1)
    data = reply.body["data"]
    assert data["flags"] == EPHEMERAL
    [embed] = data["embeds"]
    assert (embed["title"], embed["url"], embed["description"]) == ("Harbour", "https://example.com/h", FIRST_THREE)
    assert [(f["name"], f["value"]) for f in embed["fields"]] == [
        ("File", "harbour.txt"),
        ("Date", "2024-03-02"),
        ("Sentences", "4"),
        ("Link", "https://example.com/h"),
    ]


async def test_an_unknown_article_is_one_clear_reply(tmp_path, harness):
    events, _ = await started(harness, tmp_path)
    payload = events.subcommand("article", "show", {"article": "no such thing"}, **MODERATOR)
    [reply] = await harness.fake.wait_interaction(payload, 1)
    assert reply.body["data"]["content"].startswith("I have no article by that name")


async def test_article_autocomplete_offers_matching_titles(tmp_path, harness):
    events, _ = await started(harness, tmp_path)
    payload = events.subcommand_autocomplete("article", "remove", {"article": "libr"}, "article", **MODERATOR)
    [reply] = await harness.fake.wait_interaction(payload, 1)
    assert reply.body == {"type": 8, "data": {"choices": [{"name": "Library", "value": "library.txt"}]}}


async def test_the_article_command_registers_like_reload(tmp_path, harness):
    events, _ = await started(harness, tmp_path)
    payload = events.bot.tree.get_command("article").to_dict(events.bot.tree)
    assert payload["default_member_permissions"] == MANAGE_GUILD
    assert payload["contexts"] == [0, 1]
    assert [o["name"] for o in payload["options"]] == ["add", "remove", "show"]
    add_options = payload["options"][0]["options"]
    assert [(o["name"], o["type"], o["required"]) for o in add_options] == [
        ("file", 11, False),
        ("url", 3, False),
        ("title", 3, False),
        ("date", 3, False),
        ("replace", 5, False),
    ]


def test_help_lists_the_article_commands_and_follow_ups():
    from bot.formatting import help_embed

    fields = {f.name: f.value for f in help_embed(5).fields}
    assert "`/article add file:`" in fields["Moderators"]
    assert "`/article remove`" in fields["Moderators"] and "`/article show`" in fields["Moderators"]
    assert "`/article add url:`" in fields["Moderators"] and "`/feed add url:`" in fields["Moderators"]
    assert "previous question (for 10 minutes)" in fields["How to ask"]


# /article add url: the page is fetched from a local site (tests/web_site.py), never the network.

FERRY = (Path(__file__).resolve().parent.parent / "data" / "pages" / "dated.html").read_bytes()
HOME = (Path(__file__).resolve().parent.parent / "data" / "pages" / "boilerplate.html").read_bytes()
FERRY_NAME = "ferry-service-resumes-after-strike.txt"


async def add_link(harness, events, url, who=None, **options):
    payload = events.subcommand("article", "add", {"url": url, **options}, **(who or MODERATOR))
    calls = await harness.fake.wait_interaction(payload, 1)
    if calls[0].body == DEFERRED_EPHEMERAL:
        calls = await harness.fake.wait_interaction(payload, 2)
    return calls


async def started_with_links(harness, tmp_path, site):
    folder = seeds_folder(tmp_path, {"library.txt": "title: Library\n\nThe library opens on Sundays."})
    events = await harness.start(settings_for(folder, fetch_policy=site.policy))
    events.guild_create()
    return events, folder


async def test_a_moderator_adds_a_page_from_its_link_and_it_is_answered_with_its_publisher(tmp_path, harness, site):
    events, folder = await started_with_links(harness, tmp_path, site)
    url = site.serve("/2024/04/18/ferry", FERRY)
    defer, reply = await add_link(harness, events, url)

    assert defer.body == DEFERRED_EPHEMERAL
    lines = reply.body["content"].split("\n")
    assert lines[0] == f"Added “Ferry service resumes after strike” (2024-04-18, 5 sentences) as `{FERRY_NAME}`."
    assert lines[2] == f"Added (1): {FERRY_NAME}"
    assert files(folder) == ["000_eed0d9b0ce39977c.txt", FERRY_NAME, "library.txt"]
    [hit] = events.bot.holder.index.search("How many passengers were on the first crossing?", 1)
    assert (hit.article, hit.source, hit.url) == (FERRY_NAME, "The Harbour Gazette", url)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/home",
            "That page has too little article text (0 characters in sentences; at least 150 are needed): it looks "
            "like a home page, a list of links or a cookie notice, so give the address of the article itself.",
        ),
        ("/missing", "The site has no page at that link (404 Not Found): check the link."),
        ("/to-loopback", "The link redirects to an address that cannot be fetched. 127.0.0.1 is a local or private"),
    ],
)
async def test_a_link_that_cannot_be_added_gets_one_sentence_and_changes_nothing(
    tmp_path, harness, site, path, expected
):
    events, folder = await started_with_links(harness, tmp_path, site)
    before = events.bot.holder.index
    site.serve("/home", HOME)
    site.redirect("/to-loopback", "http://127.0.0.1:9/admin")
    defer, reply = await add_link(harness, events, site.url(path))

    assert defer.body == DEFERRED_EPHEMERAL
    assert reply.body["content"].startswith(expected) and reply.body["flags"] == EPHEMERAL
    assert files(folder) == ["000_eed0d9b0ce39977c.txt", "library.txt"]
    assert events.bot.holder.index is before


async def test_a_link_into_the_hosts_network_is_refused_without_the_setting(tmp_path, harness):
    events, _ = await started(harness, tmp_path)
    _, reply = await add_link(harness, events, "http://169.254.169.254/latest/meta-data/")
    assert reply.body["content"] == (
        "169.254.169.254 is a local or private network address (169.254.169.254), which qa-bot does not fetch "
        "from: give a public web address (or allow that network in FETCH_ALLOW_NETWORKS)."
    )


async def test_neither_a_file_nor_a_link_is_one_sentence(tmp_path, harness):
    events, _ = await started(harness, tmp_path)
    payload = events.subcommand("article", "add", {"title": "x"}, **MODERATOR)
    [reply] = await harness.fake.wait_interaction(payload, 1)
    assert reply.body["data"]["content"] == NOTHING_TO_ADD
