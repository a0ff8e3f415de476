"""The numbers /stats and `qa-bot stats` show, in words; and the `qa-bot stats` command itself."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.questionlog.store import LogStore, Stats
from index import UsageError

MAX_DAYS = 90
DEFAULT_DAYS = 30


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def period(days: int) -> str:
    return "today" if days == 1 else f"the last {days} days"


def questions_line(stats: Stats) -> str:
    if not stats.questions:
        return "No questions."
    asked = f"{stats.questions:,} question" + ("" if stats.questions == 1 else "s")
    return f"{asked}, {percent(stats.confident_share)} answered confidently ({stats.confident:,})."


def votes_line(stats: Stats) -> str:
    if not stats.helpful + stats.not_helpful:
        return "No votes yet."
    return (
        f"{stats.helpful:,} helpful and {stats.not_helpful:,} not helpful votes: "
        f"helpful rate {percent(stats.helpful_rate)}."
    )


def coverage_note(days: int, keep_days: int) -> str | None:
    """What the list of unanswered questions cannot cover, given QUESTION_LOG_DAYS."""
    if keep_days == 0:
        return "Question text is not kept (QUESTION_LOG_DAYS=0): only counts."
    if keep_days < days:
        return f"Questions are kept {keep_days} days (QUESTION_LOG_DAYS): the list covers those; counts cover all."
    return None


def stats_text(stats: Stats, where: str, keep_days: int) -> str:
    first, last = stats.days[0].day, stats.days[-1].day
    lines = [
        f"Questions in {where}, {period(len(stats.days))} ({first} to {last}, UTC days):",
        "  " + questions_line(stats),
        "  " + votes_line(stats),
    ]
    note = coverage_note(len(stats.days), keep_days)
    if keep_days:
        lines.append("Most asked without a confident answer:" if stats.unanswered else "Every question was answered.")
        lines += [f"  {asked:>4}×  {' '.join(question.split())}" for question, asked in stats.unanswered]
    if note:
        lines.append(note)
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace) -> int:
    """`qa-bot stats`: the same numbers from a shell, read from STATE_DB (never created here)."""
    import time

    from bot.config import ConfigError, discord_id, load_settings
    from bot.questionlog.chart import render_chart
    from bot.questionlog.database import DATABASE_ERRORS, ForeignDatabase, MissingLog, StateLocation, describe
    from bot.questionlog.schema import SchemaTooNew, SchemaTooOld, open_for_reading

    if not 1 <= args.days <= MAX_DAYS:
        raise UsageError(f"--days must be from 1 to {MAX_DAYS} (got {args.days}).")
    guild_ids: list[int] | None = None
    where = "every server and direct messages"
    if args.guild is not None:
        if args.guild.lower() == "dm":
            guild_ids, where = [0], "direct messages"
        elif (guild_id := discord_id(args.guild)) is not None:
            guild_ids, where = [guild_id], f"server {guild_id}"
        else:
            raise UsageError(f"--guild takes a numeric server id, or dm (got {args.guild!r}).")
    try:
        settings = load_settings(require_token=False)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    path: StateLocation | None = settings.state_db
    if path is None:
        raise UsageError("the question log is turned off (STATE_DB=off): there is nothing to show.")
    connected = False
    try:
        db = open_for_reading(path)
        connected = True
        try:
            stats = LogStore(db, settings.question_log_days).stats(time.time(), args.days, guild_ids)
        finally:
            db.close()
    except MissingLog:
        what = "file" if isinstance(path, Path) else "database"
        raise UsageError(
            f"there is no question log at {path}: the bot creates it when it starts; "
            f"set STATE_DB to the {what} the bot uses."
        ) from None
    except ForeignDatabase as error:
        raise UsageError(f"{error}.") from None
    except (*DATABASE_ERRORS, SchemaTooNew, SchemaTooOld) as error:
        why = describe(error, path, connected)
        raise UsageError(f"could not read the question log at {path} ({why}).") from None
    print(stats_text(stats, where, settings.question_log_days))
    if args.chart:
        chart = Path(args.chart)
        try:
            chart.write_bytes(render_chart(stats, f"Questions in {where}, {period(args.days)}"))
        except OSError as error:
            raise UsageError(f"could not write the chart to {chart} ({error.strerror or error}).") from None
        print(f"Chart: {chart}")
    return 0


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stats = commands.add_parser("stats", help="what members asked and how they rated the answers (the question log)")
    stats.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"days back, today included (1 to {MAX_DAYS})")
    stats.add_argument("--guild", metavar="ID", help="one server only (its id), or dm; default: everywhere")
    stats.add_argument("--chart", metavar="FILE.png", help="also draw the chart into this PNG file")
    stats.set_defaults(run=cmd_stats)
