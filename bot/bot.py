"""The Discord client: settings in, an index built at startup, the extensions loaded."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord
from discord.ext import commands

from bot.config import QUESTION_CHARS, Settings, format_shard_ids, load_settings
from bot.conversations import Conversations, Turn
from bot.cooldowns import SharedCooldowns
from bot.errors import QATree
from bot.feedback import FeedbackButton, feedback_view
from bot.feeds.poll import PollOptions, PollRun
from bot.feeds.poller import FeedPoller
from bot.formatting import answer_embed
from bot.identify_gate import IdentifyGate, gate_folder
from bot.index_holder import IndexHolder, ReloadInProgress, ReloadReport
from bot.questionlog.service import Clock, QuestionLog, answer_time
from bot.questionlog.store import AnswerRecord
from bot.reload_sync import ReloadSync
from bot.vectors import VectorFiller
from index import Answer, Article, cache_folder, hits_for, index_file, printable

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.exts.questions",
    "bot.exts.messages",
    "bot.exts.moderation",
    "bot.exts.articles",
    "bot.exts.feeds",
    "bot.exts.stats",
)
# Sends an answer: called with `embed=` (and `view=` for the feedback buttons), e.g. a followup's send.
SendAnswer = Callable[..., Awaitable[object]]
SKIPPED_LOGGED = 20  # the first skipped files are named in the log; /reload lists them too
FOLLOW_RETRY_SECONDS = 0.05  # a reload of another process waits this long for one running here to end


# The bot has no voice features: don't warn at every start that voice libraries are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


def intents(message_content: bool = False) -> discord.Intents:
    """Servers, and messages in them and in DMs; the privileged message-content intent only when asked for."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = message_content
    return wanted


@dataclass(frozen=True)
class Reply:
    """An answer ready to send, and what the question log keeps of it."""

    question: str
    answer: Answer
    embed: discord.Embed
    answer_id: int  # in its feedback buttons' custom ids
    started: float  # perf_counter() when the search began: the logged latency runs to the send
    followed_up: bool = False  # searched with the previous question as context


class QABot(commands.AutoShardedBot):
    """The question-answering bot. Not connected until `start()`; the index is built in `setup_hook`.

    Sharded by discord.py: every shard of this process shares one event loop, one index and one log.
    Without SHARD_COUNT it runs as many shards as Discord recommends; with SHARD_IDS only those.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        load_index: bool = True,
        clock: Clock = time.time,
        run_poll: Callable[[object, str, PollOptions], PollRun] | None = None,
        **options: object,
    ) -> None:
        if settings.shard_ids is not None:  # discord.py takes a list, and no None for "every shard"
            options.setdefault("shard_ids", list(settings.shard_ids))
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(settings.message_content),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=QATree,
            owner_ids=set(settings.owner_ids),
            shard_count=settings.shard_count,
            **options,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.load_index = load_index
        self.conversations = Conversations()
        self._holder: IndexHolder | None = None
        self.clock = clock
        self.question_log = QuestionLog(settings.state_db, settings.question_log_days, clock)
        self.cooldowns = SharedCooldowns(settings.cooldown_seconds, self.question_log, clock)
        self.reload_sync: ReloadSync | None = None  # reloads in step with the other processes on this index
        self.feed_poller: FeedPoller | None = None  # with the index and the shared state: polls the feeds
        self._run_poll = run_poll  # how a poll runs (default: a worker process; tests: a thread)
        # IDENTIFYs spaced across the processes that share this index, beside it (as its build lock is).
        saved = index_file(cache_folder(), settings.seeds_dir)
        self.identify_gate = IdentifyGate(gate_folder(saved), settings.identify_seconds, settings.identify_concurrency)

    @property
    def holder(self) -> IndexHolder:
        if self._holder is None:
            raise RuntimeError("the index is not built: it is built in setup_hook, when the bot logs in")
        return self._holder

    async def setup_hook(self) -> None:
        if self.load_index:
            saved = index_file(cache_folder(), self.settings.seeds_dir)
            sync = ReloadSync(saved, self.settings.shards, self._follow_reload)
            generation = await sync.read_generation()  # before the build: a reload during it is followed after
            self._holder = await IndexHolder.build(self.settings.seeds_dir, VectorFiller(self.settings.semantic))
            report = self._holder.last_build
            log.info(
                "Indexed %d articles (%d sentences) from %s in %.2f s; skipped %d files",
                report.articles,
                report.sentences,
                printable(str(self.settings.seeds_dir)),
                report.seconds,
                len(report.skipped),
            )
            for skipped in report.skipped[:SKIPPED_LOGGED]:
                log.warning("Skipped %s: %s", skipped.path, skipped.reason)
            await sync.start(generation)
            self.reload_sync = sync
        await self.question_log.start()
        self.add_dynamic_items(FeedbackButton)  # buttons under answers given before a restart work too
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.load_index and self.settings.state_db is not None:
            if self._run_poll is None:
                self.feed_poller = FeedPoller(self)
            else:
                self.feed_poller = FeedPoller(self, run_poll=self._run_poll)
            self.feed_poller.start()

    async def launch_shard(self, gateway: Any, shard_id: int, *, initial: bool = False) -> None:
        # discord.py's AutoShardedClient connects each shard here, and calls it again to retry a failed
        # connection (every 5 s, for ever): a bot stopped meanwhile (SIGTERM, Ctrl-C) must stop retrying.
        if self.is_closed():
            return
        # The IDENTIFY turn is waited for before the socket opens, not in the hook with the socket unread.
        await self.identify_gate.take_turn(shard_id, initial=initial)
        if self.is_closed():
            self.identify_gate.drop_turn(shard_id)
            return
        await super().launch_shard(gateway, shard_id, initial=initial)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Replaces discord.py's 5 s sleep (which spaces this process's shards only) with the machine's turns.
        await self.identify_gate.before_identify(shard_id, initial=initial)

    async def on_message(self, message: discord.Message, /) -> None:
        # No prefix commands: the questions listener (bot.exts.messages) handles messages.
        return

    async def on_ready(self) -> None:
        log.info(
            "Connected as %s (id %s) to %d servers on shards %s of %s",
            self.user,
            self.user.id if self.user else "?",
            len(self.guilds),
            format_shard_ids(sorted(self.shards)),
            self.shard_count,
        )

    async def on_shard_ready(self, shard_id: int) -> None:
        servers = sum(1 for guild in self.guilds if guild.shard_id == shard_id)
        log.info("Shard %d of %s is ready: %d servers", shard_id, self.shard_count, servers)

    async def close(self) -> None:
        if self.feed_poller is not None:
            await self.feed_poller.close()
        await super().close()
        if self.reload_sync is not None:
            await self.reload_sync.close()
        await self.question_log.close()
        await self.identify_gate.close()
        if self._holder is not None and self._holder.vectors is not None:
            await self._holder.vectors.close()

    async def reload_index(self) -> ReloadReport:
        """Rebuild here (see IndexHolder.reload), then have every other process on this index map the new one.

        The report says how many processes serve it. Raises ReloadInProgress as IndexHolder.reload does.
        """
        report = await self.holder.reload()
        if report.error is None and self.reload_sync is not None:
            in_step = await self.reload_sync.announce()
            report = dataclasses.replace(report, in_step=in_step.describe())
        return report

    async def _follow_reload(self) -> str | None:
        """Another process reloaded: map its index (the build lock makes the rebuild a map); why not, if not."""
        while True:
            try:
                report = await self.holder.reload()
            except ReloadInProgress:  # one started here reads the folder too, but maybe too early: go again after
                await asyncio.sleep(FOLLOW_RETRY_SECONDS)
                continue
            return report.error

    async def answer(self, question: str, passages: int, article: Article | None = None) -> Reply:
        """Search off the event loop and format the answer."""
        started, answer_id = time.perf_counter(), self.question_log.new_answer_id()
        question = question[:QUESTION_CHARS]
        # More hits than passages: those whose passages overlap are shown as one, and the next fill the room.
        answer = await self.holder.ask(question, hits_for(passages), article)
        return Reply(question, answer, answer_embed(answer, passages=passages), answer_id, started)

    async def answer_follow_up(self, question: str, passages: int, previous: Turn | None) -> Reply:
        """Answer in a conversation: with the previous turn as context when the question leans on it.

        The embed names the question followed up on; `followed_up` says whether it was a follow-up.
        """
        started, answer_id = time.perf_counter(), self.question_log.new_answer_id()
        question = question[:QUESTION_CHARS]
        context = previous.context if previous is not None else None
        result = await self.holder.ask_in_conversation(question, hits_for(passages), context)
        followed = previous.question if previous is not None and result.followed_up is not None else None
        embed = answer_embed(result.answer, followed_up=followed, passages=passages)
        return Reply(question, result.answer, embed, answer_id, started, followed_up=followed is not None)

    async def send_answer(self, send: SendAnswer, reply: Reply, *, guild_id: int | None) -> None:
        """Send an answer with `send`, with its feedback buttons, then log it (`guild_id` None: a DM).

        Every answer (/ask, mentions, DMs, threads) is sent through here.
        """
        # Buttons signed for this answer in this server; none while the log has never opened (no key to sign).
        signature = self.question_log.signature(reply.answer_id, guild_id or 0) if self.question_log.enabled else None
        if signature is not None:
            await send(embed=reply.embed, view=feedback_view(reply.answer_id, signature))
        else:
            await send(embed=reply.embed)
        first = reply.answer.hits[0] if reply.answer.hits else None
        self.question_log.record(
            AnswerRecord(
                answer_id=reply.answer_id,
                asked_at=answer_time(reply.answer_id),  # the id's time is the question's, to the millisecond
                guild_id=guild_id or 0,
                question=reply.question,
                confident=reply.answer.confident,
                article=first.article if first else None,
                sentence=first.sentence if first else None,
                latency_ms=(time.perf_counter() - reply.started) * 1000,
            )
        )


def create_bot(settings: Settings | None = None, *, load_index: bool = True, **options: Any) -> QABot:
    """The bot configured from the environment (DISCORD_TOKEN is checked only when it starts), not logged in."""
    return QABot(settings or load_settings(require_token=False), load_index=load_index, **options)
