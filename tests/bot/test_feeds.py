"""/feed add, list and remove, and the bot's poller, through the offline Discord and a local feed site:
a moderator follows a feed, its articles are added, the index reloads once, members ask about them."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.exts.feeds import ALREADY_FOLLOWED, NO_STATE, NOT_FOLLOWED
from bot.feeds.poll import poll_due
from testkit.discord_harness import CHANNEL_ID, EPHEMERAL, MOD_ROLE_ID, Harness, seeds_folder, settings_for
from testkit.web_site import Item, Site

DEFERRED_EPHEMERAL = {"type": 5, "data": {"flags": EPHEMERAL}}
MODERATOR = {"roles": (MOD_ROLE_ID,)}
MESSAGES = "/channels/{channel_id}/messages"


def poll_in_thread(location, owner, options):
    return poll_due(location, owner, options)


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def started(harness, tmp_path, site, **overrides):
    folder = seeds_folder(tmp_path)
    settings = settings_for(folder, fetch_policy=site.policy, **overrides)
    events = await harness.start(settings, run_poll=poll_in_thread)
    events.guild_create()
    return events, folder


async def command(harness, events, name, options=None, who=MODERATOR, deferred=False):
    payload = events.subcommand("feed", name, options or {}, **who)
    calls = await harness.fake.wait_interaction(payload, 1)
    if deferred and calls[0].body == DEFERRED_EPHEMERAL:
        calls = await harness.fake.wait_interaction(payload, 2)
    return calls[-1]


async def article_ids(bot) -> set[str]:
    return {article.id for article in await bot.holder.articles()}


async def test_a_moderator_follows_a_feed_and_members_can_ask_about_its_articles(tmp_path, harness, site):
    site.publish(
        Item(
            "ferry",
            "Ferry service resumes",
            paragraphs=(
                "The island ferry sailed again on Thursday morning after a nine-day strike by its crews ended.",
                "The operator said the first crossing left at dawn with 212 passengers on board.",
            ),
        ),
        Item("school", "School wins award"),
    )
    events, _ = await started(harness, tmp_path, site, feed_announce_channel=CHANNEL_ID)
    bot = events.bot
    reply = await command(harness, events, "add", {"url": site.feed_url}, deferred=True)
    assert reply.body["content"] == (
        "Following “Local News” (2 entries now): its newest articles are being added (at most 20 a poll), "
        "then new ones about every 30 minutes."
    )
    assert reply.body["flags"] == EPHEMERAL

    await harness.fake.wait_for(lambda: len(harness.fake.of("rest", MESSAGES)) >= 2)
    ids = await article_ids(bot)
    assert {i for i in ids if i.startswith("feeds/")} == {
        f"feeds/{site.base.split('//')[1].replace('.', '-').replace(':', '-')}/ferry-service-resumes.txt",
        f"feeds/{site.base.split('//')[1].replace('.', '-').replace(':', '-')}/school-wins-award.txt",
    }
    # Announced, one message each, with the link (and no mention).
    posts = sorted(call.body["content"] for call in harness.fake.of("rest", MESSAGES))
    assert posts == [
        f"New article: **Ferry service resumes**\n{site.url('/news/ferry')}",
        f"New article: **School wins award**\n{site.url('/news/school')}",
    ]
    # Asked by a member, answered from the new article, with its publisher in the citation.
    payload = events.command("ask", {"question": "How many passengers were on the first crossing?"})
    _, answer = await harness.fake.wait_interaction(payload, 2)
    field = answer.body["embeds"][0]["fields"][0]
    assert field["name"] == "1. Ferry service resumes"
    assert field["value"].endswith(f"— Local News · 2024-03-05 · sentence 2 · [link]({site.url('/news/ferry')})")
    assert site.count("/feed.xml") == 2  # checked once by /feed add, then polled once


async def test_the_feed_list_and_removing_a_feed(tmp_path, harness, site):
    site.publish(Item("a", "Harbour reopens"))
    events, _ = await started(harness, tmp_path, site)
    await command(harness, events, "add", {"url": site.feed_url}, deferred=True)
    await harness.fake.wait_for(lambda: events.bot.feed_poller.runs >= 2)

    listed = await command(harness, events, "list")
    [embed] = listed.body["data"]["embeds"]
    assert embed["title"] == "Feeds (1)"
    assert embed["description"].startswith("**Local News** · 1 article · last polled <t:")
    assert ">: 1 new article added from 1 entries. Next poll <t:" in embed["description"]

    choices = events.subcommand_autocomplete("feed", "remove", {"feed": "local"}, "feed", **MODERATOR)
    [choice_reply] = await harness.fake.wait_interaction(choices, 1)
    assert choice_reply.body["data"]["choices"] == [{"name": "Local News", "value": site.feed_url}]

    removed = await command(harness, events, "remove", {"feed": site.feed_url})
    assert removed.body["data"]["content"] == (
        "Stopped following “Local News”. The 1 article it brought stay: remove them with /article remove."
    )
    again = await command(harness, events, "remove", {"feed": site.feed_url})
    assert again.body["data"]["content"] == NOT_FOLLOWED


async def test_a_feed_followed_twice_or_not_a_feed_is_one_sentence(tmp_path, harness, site):
    site.publish(Item("a", "Harbour reopens"))
    site.serve("/page", "<html><body><p>Just a page.</p></body></html>")
    events, _ = await started(harness, tmp_path, site)
    await command(harness, events, "add", {"url": site.feed_url}, deferred=True)
    twice = await command(harness, events, "add", {"url": site.feed_url}, deferred=True)
    assert twice.body["content"] == ALREADY_FOLLOWED
    page = await command(harness, events, "add", {"url": site.url("/page")}, deferred=True)
    assert page.body["content"].startswith("That link is not an RSS or Atom feed")
    inside = await command(harness, events, "add", {"url": "http://10.0.0.1/rss"}, deferred=True)
    assert inside.body["content"].startswith("10.0.0.1 is a local or private network address (10.0.0.1)")
    scheme = await command(harness, events, "add", {"url": "file:///etc/passwd"})
    assert scheme.body["data"]["content"] == (
        "Only http:// and https:// links can be fetched: give the page's web address."
    )


async def test_feeds_need_the_shared_state(tmp_path, harness, site):
    events, _ = await started(harness, tmp_path, site, state_db=None)
    reply = await command(harness, events, "add", {"url": site.feed_url})
    assert reply.body["data"]["content"] == NO_STATE
    assert events.bot.feed_poller is None


async def test_members_cannot_manage_feeds(tmp_path, harness, site):
    events, _ = await started(harness, tmp_path, site)
    reply = await command(harness, events, "list", who={})
    assert reply.body["data"]["content"].startswith("Only members with the Manage Server permission")


async def test_articles_another_process_added_are_served_after_its_poll(tmp_path, harness, site):
    # Two bots sharing STATE_DB and the seeds folder: whichever polls, both serve the new article.
    site.publish(Item("a", "Harbour reopens"))
    first, folder = await started(harness, tmp_path, site)
    second = await harness.start(settings_for(folder, fetch_policy=site.policy), run_poll=poll_in_thread)
    await command(harness, first, "add", {"url": site.feed_url}, deferred=True)
    await harness.fake.wait_for(lambda: first.bot.feed_poller.runs >= 2)

    async def served_by_both() -> bool:
        second.bot.feed_poller.wake()
        both = [any(i.startswith("feeds/") for i in await article_ids(e.bot)) for e in (first, second)]
        return all(both)

    deadline = asyncio.get_running_loop().time() + 60
    while not await served_by_both():
        assert asyncio.get_running_loop().time() < deadline, "the second bot never served the new article"
        await asyncio.sleep(0.05)
    assert site.count("/news/a") == 1  # fetched by one of them only


async def test_a_feed_that_fails_leaves_the_index_serving(tmp_path, harness):
    site = await Site().start()
    served = []

    async def feed_then_errors(request):
        served.append(1)
        if len(served) == 1:  # /feed add's check
            body = "<rss version='2.0'><channel><title>T</title></channel></rss>"
            return web.Response(text=body, content_type="application/rss+xml")
        return web.Response(status=500, text="down")

    try:
        url = site.handle("/feed.xml", feed_then_errors)
        events, _ = await started(harness, tmp_path, site)
        before = events.bot.holder.index
        await command(harness, events, "add", {"url": url}, deferred=True)
        await harness.fake.wait_for(lambda: events.bot.feed_poller.runs >= 2)
        assert events.bot.holder.index is before
        [row] = await events.bot.feed_poller.call(lambda store: store.feeds())
        assert row.status == (
            "The feed could not be read: The site is unavailable (500 Internal Server Error): try again later."
        )
        assert row.failures == 1
    finally:
        await site.stop()
