"""A load scenario through the offline harness: 1,000 questions (slash commands, DMs, mentions) from 200 users
while 5 /reloads run. Used by tests/bot/test_hostile_load.py, which asserts what the bot did, and by
bench/bot_load.py, which measures how fast (first responses, event-loop lag) and checks the limits."""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.formatting import cooldown_message
from bot.questionlog.store import Turn
from testkit.discord_harness import (
    BOT_USER,
    MANAGE_GUILD,
    MEMBER_ID,
    WAIT_SECONDS,
    Call,
    Harness,
    seeds_folder,
    settings_for,
)

QUESTIONS = 1_000
USERS = 200
RELOADS = 5
ARRIVAL_SECONDS = 8.0  # the questions arrive evenly over this long
EXTRA_ARTICLES = 500  # 10,000 sentences: each rebuild overlaps many questions
COOLDOWN_SECONDS = 0.5  # with users picked at random, about a quarter of the questions come too soon
PROBE_INTERVAL = 0.010
MODERATOR_ID = MEMBER_ID + 10_000
ASKS = [
    "How many coups?",
    "Who is in charge of Niger?",
    "@everyone who condemned the coup?",
    "```\nWhat did the junta say?\n```",
    "Who is the pre\u200bsident?",
    "https://example.com/niger why did France object?",
    "Когда открылась гавань?",
    "🤔 When does the library open on Sundays?",
    "",
    "the of and is",
    "Which harvest broke a record? " * 15,
]
COOLDOWN_PREFIX = cooldown_message(1).split(" in ")[0]
INTERACTION_ID = re.compile(r"/interactions/(\d+)/")
TOKEN_ID = re.compile(r"interaction-token-(\d+)")
SCHEDSTAT = Path("/proc/thread-self/schedstat")  # Linux: ns on a CPU, ns waiting for a CPU, time slices


def many_articles(folder: Path, start: int, count: int) -> None:
    for n in range(start, start + count):
        sentences = " ".join(f"Report {n} counts {k} boats and {n * k} nets in harbour{n % 17}." for k in range(20))
        (folder / f"extra{n:04}.txt").write_text(f"title: Report {n}\n\n{sentences}\n", encoding="utf-8")


def _cpu_wait() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (0 where Linux's schedstat is missing)."""
    try:
        return int(SCHEDSTAT.read_text().split()[1]) / 1e9
    except OSError:
        return 0.0


class LagProbe:
    """Sleeps a little, over and over, and records how late the loop wakes it.

    `worst` is the raw lateness. `worst_own` leaves out the time the loop's thread spent waiting for a
    CPU (the machine's load, which no program controls); what remains is the process's own doing:
    the GIL held by another thread, a garbage-collection pass, blocking code on the loop.
    """

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_own = 0.0
        self.samples = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before, waited_before = loop.time(), _cpu_wait()
            await asyncio.sleep(PROBE_INTERVAL)
            lag = loop.time() - before - PROBE_INTERVAL
            self.worst = max(self.worst, lag)
            self.worst_own = max(self.worst_own, lag - (_cpu_wait() - waited_before))
            self.samples += 1


@dataclass
class LoadRun:
    """What happened: each question's kind, asker and arrival (loop time), the calls answering each,
    and how many message questions each user had silently refused (one "try again" covers a flood)."""

    kinds: dict[int, str] = field(default_factory=dict)
    users: dict[int, int] = field(default_factory=dict)
    arrivals: dict[int, float] = field(default_factory=dict)
    reloads: list[int] = field(default_factory=list)
    responses: dict[int, list[Call]] = field(default_factory=dict)
    silent_refusals: Counter[int] = field(default_factory=Counter)
    probe: LagProbe = field(default_factory=LagProbe)


def replies(calls: list[Call]) -> list[Call]:
    """Everything but a defer: an answer, a cooldown reply, a report, or a reply that says what to do."""
    return [c for c in calls if not (c.is_callback and c.body.get("type") == 5)]


def content(call: Call) -> str:
    return str((call.body.get("data") or call.body).get("content") or "")


def _responses(harness: Harness) -> dict[int, list[Call]]:
    by_id: dict[int, list[Call]] = {}
    for call in harness.fake.calls:
        if call.kind == "webhook":
            match = INTERACTION_ID.search(call.url) or TOKEN_ID.search(call.url)
            key = int(match.group(1)) if match else 0
        elif call.path == "/channels/{channel_id}/messages":
            key = int(call.body["message_reference"]["message_id"])
        else:
            continue
        by_id.setdefault(key, []).append(call)
    return by_id


async def run_load(tmp_path: Path, harness: Harness) -> LoadRun:
    folder = seeds_folder(tmp_path)
    many_articles(folder, 0, EXTRA_ARTICLES)
    events = await harness.start(settings_for(folder, cooldown_seconds=COOLDOWN_SECONDS))
    events.guild_create()
    run = LoadRun()
    cooldowns = events.bot.cooldowns
    real_take = cooldowns.take

    async def take(user_id: int) -> Turn:
        turn = await real_take(user_id)
        # A message refused after the first refusal of its window gets no reply; /ask always gets one.
        task = asyncio.current_task()
        in_message = task is not None and task.get_name() == "discord.py: on_message"
        if in_message and not turn.allowed and not turn.first_refusal:
            run.silent_refusals[user_id] += 1
        return turn

    cooldowns.take = take  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    probing = asyncio.create_task(run.probe.run())
    reload_every = QUESTIONS // RELOADS
    chosen = random.Random(6)
    for n in range(QUESTIONS):
        if n % reload_every == reload_every // 2:
            many_articles(folder, EXTRA_ARTICLES + len(run.reloads), 1)  # every rebuild finds something new
            payload = events.command("reload", user_id=MODERATOR_ID, permissions=MANAGE_GUILD)
            run.reloads.append(int(payload["id"]))
            run.arrivals[int(payload["id"])] = loop.time()
        asker = MEMBER_ID + 1 + (n if n < USERS else chosen.randrange(USERS))  # everyone asks at least once
        question = ASKS[n % len(ASKS)]
        kind = ("slash in a server", "slash in a DM", "DM", "mention")[n % 4]
        if kind.startswith("slash"):
            payload = events.command("ask", {"question": question}, user_id=asker, in_dm=kind.endswith("DM"))
        elif kind == "DM":
            payload = events.message(question, in_dm=True, author_id=asker)
        else:
            payload = events.message(
                f"<@{BOT_USER['id']}> {question}", in_dm=False, mentions=(BOT_USER,), author_id=asker
            )
        run.arrivals[int(payload["id"])] = loop.time()
        run.kinds[int(payload["id"])] = kind
        run.users[int(payload["id"])] = asker
        await asyncio.sleep(ARRIVAL_SECONDS / QUESTIONS)

    def answered_all() -> bool:
        got = _responses(harness)
        unanswered = Counter(run.users[k] for k in run.kinds if not replies(got.get(k, [])))
        return all(unanswered[u] <= run.silent_refusals[u] for u in unanswered) and all(
            replies(got.get(k, [])) for k in run.reloads
        )

    await harness.fake.wait_for(answered_all, timeout=max(WAIT_SECONDS, 10 * ARRIVAL_SECONDS))
    await harness.fake.settled()  # every handler has finished: a late duplicate reply would be here
    probing.cancel()
    run.responses = _responses(harness)
    return run


def first_response_seconds(run: LoadRun) -> list[float]:
    """For every question or reload that got a response, how long after it arrived the first one came."""
    return [run.responses[key][0].at - arrived for key, arrived in run.arrivals.items() if key in run.responses]
