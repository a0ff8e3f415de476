"""`qa-bot feed add|list|remove|poll` against a local feed site, in the shared state the bot uses."""

from __future__ import annotations

import asyncio

import pytest

from bot.cli import main
from testkit.web_site import Item


@pytest.fixture
def shell(tmp_path, monkeypatch, site):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    monkeypatch.setenv("SEEDS_DIR", str(seeds))
    monkeypatch.setenv("STATE_DB", str(tmp_path / "state.sqlite3"))
    monkeypatch.setenv("FETCH_ALLOW_NETWORKS", "127.0.0.2/32")
    return seeds


async def run(capsys, *argv):
    status = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


async def test_a_feed_is_added_listed_polled_and_removed_from_a_shell(shell, site, capsys):
    site.publish(Item("a", "Harbour reopens"), Item("b", "Bridge closes"))
    status, out, err = await run(capsys, "feed", "add", site.feed_url)
    assert (status, err) == (0, "")
    assert out == [
        "Following “Local News” (2 entries now). Its articles are added at the next poll: by the running bot "
        "within a minute, or now with qa-bot feed poll."
    ]
    status, out, _ = await run(capsys, "feed", "poll")
    folder = site.base.split("//")[1].replace(".", "-").replace(":", "-")
    assert status == 0
    assert out == [
        f"{site.feed_url}: 2 new articles added from 2 entries.",
        f"  feeds/{folder}/bridge-closes.txt: “Bridge closes”, 2024-03-05",
        f"  feeds/{folder}/harbour-reopens.txt: “Harbour reopens”, 2024-03-05",
        "Running bots sharing STATE_DB reload within a minute; otherwise /reload.",
    ]
    assert sorted(p.name for p in (shell / "feeds" / folder).iterdir()) == ["bridge-closes.txt", "harbour-reopens.txt"]

    status, out, _ = await run(capsys, "feed", "poll")
    assert out == ["No feed is due (or each is being polled by a running bot); --now polls every feed."]
    status, out, _ = await run(capsys, "feed", "poll", "--now")
    assert out == [f"{site.feed_url}: Not changed since the last poll."]

    status, out, _ = await run(capsys, "feed", "list")
    assert out[0] == f"{site.feed_url}  “Local News”, 2 articles"
    assert out[1].startswith("    last poll ") and out[1].endswith(" UTC: Not changed since the last poll.")

    status, out, _ = await run(capsys, "feed", "remove", site.feed_url)
    assert out == [f"Stopped following {site.feed_url}; the 2 articles it brought stay."]
    status, _, err = await run(capsys, "feed", "remove", site.feed_url)
    assert (status, err) == (2, f"qa-bot: {site.feed_url} is not followed: see qa-bot feed list\n")


async def test_shell_mistakes_are_one_line(shell, site, capsys, monkeypatch):
    status, _, err = await run(capsys, "feed", "add", "http://192.168.1.1/rss")
    assert (status, err) == (
        2,
        "qa-bot: 192.168.1.1 is a local or private network address (192.168.1.1), which qa-bot does not fetch "
        "from: give a public web address (or allow that network in FETCH_ALLOW_NETWORKS).\n",
    )
    site.serve("/page", "<html><body><p>A page.</p></body></html>")
    status, _, err = await run(capsys, "feed", "add", site.url("/page"))
    assert status == 2 and err.startswith("qa-bot: That link is not an RSS or Atom feed")
    monkeypatch.setenv("STATE_DB", "off")
    status, _, err = await run(capsys, "feed", "list")
    assert (status, err) == (
        2,
        "qa-bot: feeds are kept in the shared state, which is off (STATE_DB=off): set STATE_DB\n",
    )
