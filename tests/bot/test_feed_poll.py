"""Polling feeds (bot/feeds/poll.py) against a local site: conditional requests, the per-poll cap, dedup, edits,
failures, and leases shared by processes (SQLite and PostgreSQL). A fake clock decides what is due."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from bot.feeds.poll import LEASE_SECONDS, MAX_ATTEMPTS, PollOptions, host_folder, poll_due
from bot.feeds.store import FeedExists
from index import build_index, parse_article
from testkit.web_site import FeedSite, Item, Site

HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def options(folder: Path, site: Site, **overrides) -> PollOptions:
    values = {"folder": folder, "interval_seconds": 1800.0, "max_new": 20, "policy": site.policy}
    values.update(overrides)
    return PollOptions(**values)


async def poll(location, folder, site, clock, owner="A", urls=None, **overrides):
    return await asyncio.to_thread(
        poll_due, location, owner, options(folder, site, **overrides), urls=urls, clock=clock, rng=lambda: 0.0
    )


def follow(location, url, clock, title=None):
    from bot.feeds.poll import opened

    with opened(location) as store:
        return store.add(url, title, clock())


def feeds(location):
    from bot.feeds.poll import opened

    with opened(location) as store:
        return store.feeds()


def articles(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.txt"))


async def test_a_feed_of_200_items_adds_the_newest_20_per_poll_then_the_rest(tmp_path, site, clock, state_location):
    site.publish(
        *(
            Item(f"story-{n:03d}", f"Story number {n}", published=f"{n % 28 + 1:02d} Feb 2024 10:{n % 60:02d}:00 GMT")
            for n in range(200)
        )
    )
    follow(state_location, site.feed_url, clock)
    first = await poll(state_location, tmp_path, site, clock)

    [report] = first.reports
    assert (len(report.added), report.requests, report.failed) == (20, 21, False)
    assert report.status == "20 new articles added from 200 entries."
    assert first.generation == 1
    [row] = feeds(state_location)
    assert (row.backlog, row.articles, row.next_poll_at) == (True, 20, clock.now + 1800.0)

    clock.now += 1800.0  # due again: entries are left, so the request is not conditional
    second = await poll(state_location, tmp_path, site, clock)
    assert len(second.reports[0].added) == 20
    assert site.requests[-21].headers.get("If-None-Match") is None
    assert len(articles(tmp_path)) == 40
    assert len({a.id for a in (*first.added, *second.added)}) == 40


async def test_a_feed_that_did_not_change_costs_one_conditional_request(tmp_path, site, clock, state_location):
    site.publish(Item("a", "Harbour reopens"), Item("b", "Bridge closes"))
    follow(state_location, site.feed_url, clock)
    await poll(state_location, tmp_path, site, clock)
    before = len(site.requests)

    clock.now += 1800.0
    run = await poll(state_location, tmp_path, site, clock)
    [report] = run.reports
    assert (report.requests, report.added, report.status) == (1, (), "Not changed since the last poll.")
    assert len(site.requests) == before + 1
    assert site.requests[-1].headers["If-None-Match"].startswith('"')
    assert run.generation == 1  # nothing added: no process reloads


async def test_nothing_is_polled_before_it_is_due_and_the_next_poll_is_at_most_one_interval_away(
    tmp_path, site, clock, state_location
):
    site.publish(Item("a", "Harbour reopens"))
    follow(state_location, site.feed_url, clock)
    await poll(state_location, tmp_path, site, clock)
    clock.now += 1799.0
    assert (await poll(state_location, tmp_path, site, clock)).reports == ()
    from bot.feeds.poll import next_poll

    assert next_poll(0.0, 1800.0, 0, lambda: 1.0) == 1800.0 * 0.85  # jitter only brings a poll earlier
    assert next_poll(0.0, 1800.0, 0, lambda: 0.0) == 1800.0


async def test_new_entries_are_articles_with_their_feeds_date_when_the_page_has_none(
    tmp_path, site, clock, state_location
):
    site.publish(Item("ferry", "Ferry service resumes", published="Thu, 18 Apr 2024 06:30:00 GMT"))
    follow(state_location, site.feed_url, clock)
    run = await poll(state_location, tmp_path, site, clock)
    [added] = run.added
    folder = host_folder(site.feed_url)
    assert added.id == f"feeds/{folder}/ferry-service-resumes.txt"
    article = parse_article(added.id, (tmp_path / added.id).read_bytes())
    assert (article.title, article.date, article.source, article.url) == (
        "Ferry service resumes",
        "2024-04-18",
        "Local News",
        site.url("/news/ferry"),
    )
    index, _ = build_index(tmp_path, use_cache=False)
    assert index.search("When did the story called ferry begin?", 1)[0].article == added.id


async def test_a_changing_feed_adds_new_entries_replaces_edited_ones_and_keeps_those_that_left(
    tmp_path, site, clock, state_location
):
    site.publish(Item("a", "Harbour reopens"), Item("b", "Bridge closes"))
    follow(state_location, site.feed_url, clock)
    first = await poll(state_location, tmp_path, site, clock)
    ids = {a.title: a.id for a in first.added}

    edited = Item(
        "b",
        "Bridge closes",
        summary="Updated: the bridge reopens on Monday.",
        paragraphs=(
            "The bridge over the river closed for repairs on Friday morning, the council said in a statement.",
            "Update: engineers now say it reopens on Monday after the cables are checked.",
        ),
    )
    site.items = []  # "a" leaves the feed, "b" is edited, "c" is new
    site.publish(edited, Item("c", "School wins award"))
    clock.now += 1800.0
    second = await poll(state_location, tmp_path, site, clock)

    [report] = second.reports
    assert [a.title for a in report.added] == ["School wins award"]
    assert [a.id for a in report.updated] == [ids["Bridge closes"]]
    assert "Update: engineers now say" in (tmp_path / ids["Bridge closes"]).read_text("utf-8")
    assert (tmp_path / ids["Harbour reopens"]).is_file()  # an entry that leaves the feed keeps its article
    assert report.status == "1 new article added, 1 updated from 2 entries."
    assert second.generation == 2


async def test_an_article_a_moderator_removed_is_not_added_again(tmp_path, site, clock, state_location):
    site.publish(Item("a", "Harbour reopens"))
    follow(state_location, site.feed_url, clock)
    [added] = (await poll(state_location, tmp_path, site, clock)).added
    (tmp_path / added.id).unlink()
    site.items[0] = Item("a", "Harbour reopens", summary="Edited summary.")
    clock.now += 1800.0
    run = await poll(state_location, tmp_path, site, clock)
    assert run.added == () and not (tmp_path / added.id).exists()


async def test_the_same_story_is_added_once_whichever_feed_or_link_brings_it(tmp_path, clock, state_location):
    first, second = await FeedSite().start(), await FeedSite().start()
    try:
        story = Item(
            "harbour",
            "Harbour reopens",
            paragraphs=(
                "The harbour reopened on Monday after a week of repairs to the quay.",
                "Fishing boats returned at dawn and the market opened by nine, the harbour master said.",
            ),
        )
        first.publish(story)
        # The same page behind another link, with tracking parameters, in another feed.
        second.publish(Item("harbour-copy", "Harbour reopens!", paragraphs=story.paragraphs))
        second.items[0].link = second.url("/news/harbour-copy?utm_source=rss&utm_medium=feed")
        second.publish(Item("other", "Other story", link=first.url("/news/harbour?utm_campaign=x")))
        follow(state_location, first.feed_url, clock)
        clock.now += 1  # due a second later: polled second
        follow(state_location, second.feed_url, clock)
        run = await poll(state_location, tmp_path, first, clock, policy=first.policy)
        assert [len(r.added) for r in run.reports] == [1, 0]
        # One by its text (another link, another title), one by its link (without its tracking parameters).
        assert run.reports[1].status == "0 new articles added, 2 already in the archive from 2 entries."
        assert len(articles(tmp_path)) == 1
    finally:
        await first.stop()
        await second.stop()


async def test_a_page_that_fails_is_tried_at_two_more_polls_then_skipped(tmp_path, site, clock, state_location):
    site.publish(Item("gone", "Gone story"), Item("ok", "Fine story"))
    del site.routes["/news/gone"]
    follow(state_location, site.feed_url, clock)
    run = await poll(state_location, tmp_path, site, clock)
    assert run.reports[0].status == "1 new article added, 1 page could not be used from 2 entries."
    for attempt in range(2, MAX_ATTEMPTS + 2):
        site.feed_title = f"Local News {attempt}"  # the feed changes, so it is read again
        clock.now += 1800.0
        await poll(state_location, tmp_path, site, clock)
    assert site.count("/news/gone") == MAX_ATTEMPTS


async def test_an_entry_pointing_into_the_hosts_network_is_not_fetched(tmp_path, site, clock, state_location):
    site.publish(Item("inside", "Inside", link="http://127.0.0.1:9/admin"), Item("ok", "Fine story"))
    follow(state_location, site.feed_url, clock)
    run = await poll(state_location, tmp_path, site, clock)
    assert [a.title for a in run.added] == ["Fine story"]
    assert run.reports[0].status == "1 new article added, 1 page could not be used from 2 entries."


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (
            b"<html><body><p>Our news</p></body></html>",
            "text/html",
            "The feed could not be read: That link is not an RSS or Atom feed",
        ),
        (
            b"<?xml version='1.0'?><rss><channel><title>Broken &",
            "application/rss+xml",
            "The feed could not be read: That link is not an RSS or Atom feed",
        ),
        (b"%PDF-1.4", "application/pdf", "The feed could not be read: That link gives application/pdf"),
    ],
)
async def test_a_malformed_feed_is_one_sentence_and_waits_longer_each_time(
    tmp_path, clock, state_location, body, content_type, status
):
    site = await Site().start()
    try:
        url = site.serve("/feed.xml", body, content_type)
        follow(state_location, url, clock)
        run = await poll(state_location, tmp_path, site, clock)
        [report] = run.reports
        assert report.failed and report.status.startswith(status)
        [row] = feeds(state_location)
        assert (row.failures, row.next_poll_at, row.status) == (1, clock.now + 2 * 1800.0, report.status)
    finally:
        await site.stop()


async def test_a_recoverable_feed_with_broken_markup_is_read(tmp_path, clock, state_location):
    site = await Site().start()
    try:
        site.serve(
            "/news/a",
            "<html><body><article><h1>A</h1><p>"
            + "The harbour reopened on Monday after repairs. " * 5
            + "</p></article></body></html>",
        )
        link = site.url("/news/a")
        body = f"<rss><channel><title>Loose & broken</title><item><title>A</title><link>{link}</link></item></channel>"
        url = site.serve("/feed.xml", body, "application/rss+xml")
        follow(state_location, url, clock)
        run = await poll(state_location, tmp_path, site, clock)
        assert len(run.added) == 1
    finally:
        await site.stop()


async def test_a_slow_feed_is_given_up_with_a_sentence(tmp_path, clock, state_location):
    from index.articles.web import FetchLimits

    site = await Site().start()

    async def hang(request):
        await site.released.wait()
        return web.Response(text="late")

    try:
        url = site.handle("/feed.xml", hang)
        follow(state_location, url, clock)
        run = await poll(state_location, tmp_path, site, clock, feed_limits=FetchLimits(seconds=0.3))
        assert (
            run.reports[0].status
            == "The feed could not be read: 127.0.0.2 took longer than 0.3 s to send the page: try again later."
        )
    finally:
        await site.stop()


def test_one_process_polls_a_feed_and_another_takes_over_when_its_lease_runs_out(new_state):
    from bot.feeds.poll import opened

    location = new_state("leases")
    with opened(location) as a, opened(location) as b:
        a.add("https://news.example/feed", None, 100.0)
        with pytest.raises(FeedExists):
            b.add("https://news.example/feed", None, 100.0)
        first = a.take_due("A", 100.0, LEASE_SECONDS)
        assert first is not None and first.lease_owner == "A"
        assert b.take_due("B", 100.0, LEASE_SECONDS) is None  # leased by A
        assert b.take("https://news.example/feed", "B", 100.0, LEASE_SECONDS) is None
        assert a.renew(first.url, "A", 100.0 + 2 * LEASE_SECONDS)
        assert b.take_due("B", 100.0 + LEASE_SECONDS + 1, LEASE_SECONDS) is None  # renewed
        taken = b.take_due("B", 100.0 + 2 * LEASE_SECONDS + 1, LEASE_SECONDS)  # A went quiet: B takes over
        assert taken is not None and taken.lease_owner == "B"
        assert not a.renew(first.url, "A", 10_000.0)  # A learns it lost the lease


def test_of_two_processes_asking_at_once_exactly_one_gets_the_lease(new_state):
    import threading

    from bot.feeds.poll import opened

    location = new_state("race")
    with opened(location) as store:
        for n in range(5):
            store.add(f"https://news.example/{n}", None, 100.0)
    taken: list[tuple[str, str]] = []
    start = threading.Barrier(4)

    def worker(owner: str) -> None:
        with opened(location) as store:
            start.wait()
            while (feed := store.take_due(owner, 200.0, LEASE_SECONDS)) is not None:
                taken.append((owner, feed.url))

    threads = [threading.Thread(target=worker, args=(f"P{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(url for _, url in taken) == [f"https://news.example/{n}" for n in range(5)]


def test_the_next_due_time_counts_a_lease_from_its_end(new_state):
    from bot.feeds.poll import opened

    location = new_state("due")
    with opened(location) as store:
        assert store.next_due() is None
        store.add("https://news.example/a", None, 100.0)
        store.add("https://news.example/b", None, 300.0)
        assert store.next_due() == 100.0
        store.take_due("A", 150.0, LEASE_SECONDS)  # a is polled by A until 750
        assert store.next_due() == 300.0


@pytest.mark.slow
async def test_a_poll_runs_in_a_worker_process_of_its_own(tmp_path, site, clock, state_location):
    from bot.feeds.poller import poll_in_worker_process

    site.publish(Item("a", "Harbour reopens"))
    follow(state_location, site.feed_url, (0.0).__float__)  # due since the epoch, whatever the real time
    run = await asyncio.to_thread(poll_in_worker_process, state_location, "worker", options(tmp_path, site))
    assert [a.title for a in run.added] == ["Harbour reopens"] and run.generation == 1
    assert (tmp_path / run.added[0].id).is_file()
