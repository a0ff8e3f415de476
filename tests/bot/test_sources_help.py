"""/sources (paginated with buttons) and /help."""

from __future__ import annotations

import pytest

from testkit.discord_harness import EPHEMERAL, MEMBER_ID, Harness, seeds_folder, settings_for

MANY = {
    f"story{n:02}.txt": f"title: Story number {n}\ndate: 2024-01-{n:02}\n\nFirst sentence {n}. Second sentence {n}."
    for n in range(1, 16)
}


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


def buttons(body: dict) -> dict[str, dict]:
    [row] = body["data"]["components"]
    return {button["label"]: button for button in row["components"]}


async def test_sources_pages_through_the_articles_with_buttons(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path, MANY)))
    payload = events.command("sources", in_dm=True)
    [shown] = await harness.fake.wait_interaction(payload, 1)

    assert shown.body["type"] == 4
    assert shown.body["data"]["flags"] == EPHEMERAL
    [embed] = shown.body["data"]["embeds"]
    assert embed["title"] == "Indexed articles (16)"
    lines = embed["description"].split("\n")
    assert len(lines) == 10
    assert lines[0] == (
        "**1.** Niger’s President Mohamed Bazoum has issued a defiant message on Twitter after… "
        "· 2023-07-27 · 33 sentences"
    )
    assert lines[1] == "**2.** Story number 1 · 2024-01-01 · 2 sentences"
    assert embed["footer"]["text"] == "Page 1 of 2 · answers by words only · ask about them with /ask"
    assert buttons(shown.body)["Previous"]["disabled"] is True
    assert buttons(shown.body)["Next"]["disabled"] is False

    message = shown.reply["resource"]["message"]
    turn = events.button(buttons(shown.body)["Next"]["custom_id"], message, in_dm=True)
    [page_two] = await harness.fake.wait_interaction(turn, 1)
    assert page_two.body["type"] == 7  # the message is updated in place
    [embed] = page_two.body["data"]["embeds"]
    assert embed["description"].split("\n") == [
        f"**{n + 1}.** Story number {n} · 2024-01-{n:02} · 2 sentences" for n in range(10, 16)
    ]
    assert embed["footer"]["text"] == "Page 2 of 2 · answers by words only · ask about them with /ask"
    assert buttons(page_two.body)["Previous"]["disabled"] is False
    assert buttons(page_two.body)["Next"]["disabled"] is True


async def test_only_whoever_ran_sources_can_turn_its_pages(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path, MANY)))
    events.guild_create()
    [shown] = await harness.fake.wait_interaction(events.command("sources"), 1)
    message = shown.reply["resource"]["message"]
    turn = events.button(buttons(shown.body)["Next"]["custom_id"], message, user_id=MEMBER_ID + 5)
    [refusal] = await harness.fake.wait_interaction(turn, 1)
    assert refusal.body["type"] == 4
    assert refusal.body["data"]["flags"] == EPHEMERAL
    assert refusal.body["data"]["content"].startswith("These buttons belong to whoever ran /sources")


async def test_a_single_page_has_no_buttons(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    [shown] = await harness.fake.wait_interaction(events.command("sources"), 1)
    assert "components" not in shown.body["data"]
    footer = shown.body["data"]["embeds"][0]["footer"]["text"]
    assert footer == "Page 1 of 1 · answers by words only · ask about them with /ask"


async def test_help_says_how_to_ask_privately(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path), cooldown_seconds=5.0))
    [shown] = await harness.fake.wait_interaction(events.command("help", in_dm=True), 1)
    assert shown.body["type"] == 4
    assert shown.body["data"]["flags"] == EPHEMERAL
    assert shown.body["data"]["allowed_mentions"] == {"parse": []}
    [embed] = shown.body["data"]["embeds"]
    assert [f["name"] for f in embed["fields"]] == ["How to ask", "Moderators"]
    assert "One question every 5 s per person." in embed["fields"][0]["value"]
    assert "/ask question:" in embed["fields"][0]["value"]
