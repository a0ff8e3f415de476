"""The bot's settings, read once from the environment (and `.env`), checked before anything starts."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from index import AddressPolicy, env_flag, printable

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What a member may ask: longer questions are refused by /ask and cut in messages (nobody asks a
# 6,000-character question on purpose); at most MAX_PASSAGES passages in one answer.
QUESTION_CHARS = 500
MAX_PASSAGES = 5
DEFAULT_COOLDOWN_SECONDS = 5.0
MAX_COOLDOWN_SECONDS = 3600
DEFAULT_QUESTION_LOG_DAYS = 30
MAX_QUESTION_LOG_DAYS = 3650
STATE_DB_OFF = "off"
MAX_SHARDS = 65_536  # far past any real bot (Discord asks for a shard per 1,000 to 2,500 servers)
IDENTIFY_SECONDS = 5.0  # Discord's session start window: max_concurrency IDENTIFYs per 5 s
MAX_IDENTIFY_CONCURRENCY = 1024  # Discord gives 1; very large bots 16 or a multiple of it
MAX_DISCORD_ID = (1 << 63) - 1  # snowflakes are 64-bit; Discord's fit a signed one until the year 2084
DEFAULT_FEED_POLL_MINUTES = 30.0
MIN_FEED_POLL_MINUTES = 5.0  # more often is impolite to the sites (they update their feeds less often than that)
MAX_FEED_POLL_MINUTES = 1440.0
DEFAULT_FEED_MAX_NEW = 20
MAX_FEED_MAX_NEW = 200


def default_state_db() -> Path:
    """The question log's file in the user's data folder, e.g. ~/.local/share/qa-bot/state.sqlite3."""
    from platformdirs import user_data_path

    return user_data_path("qa-bot") / "state.sqlite3"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


UNREADABLE_POSTGRES_URL = (
    "STATE_DB is not a PostgreSQL URL that can be read (what is wrong is not shown, as it may quote the "
    "password): write it as postgresql://user:password@host:port/database, with any space, %, @, / or : in the "
    "user name or password percent-encoded (a space as %20, % as %25) and an IPv6 host in brackets; fix it in .env."
)
# libpq's parameters that hold a secret: never shown, and cut out of any message that quotes them.
SECRET_PARAMETERS = ("password", "sslpassword", "oauth_client_secret")


class PostgresURL:
    """STATE_DB as a PostgreSQL URL, read with libpq's own parser when set (no connection is made).

    Shown (str, repr, logs, messages) as user, host, port and database only; `redact` cuts its secrets out of
    any text, such as a driver's message that quotes them.
    """

    __slots__ = ("_secrets", "_shown", "_url")
    SCHEMES = ("postgresql://", "postgres://")

    def __init__(self, url: str) -> None:
        """Raises ConfigError, saying nothing of the URL itself, when libpq cannot read it."""
        from psycopg import Error
        from psycopg.conninfo import conninfo_to_dict

        try:
            fields = conninfo_to_dict(url)
        except (Error, UnicodeError, ValueError):
            # libpq's message quotes the token it refused, which may be the password: it is not passed on.
            raise ConfigError(UNREADABLE_POSTGRES_URL) from None
        self._url = url
        found = {str(fields[name]) for name in SECRET_PARAMETERS if fields.get(name)}
        # The password as written in the URL too (percent-encoded), since a message may quote either form.
        userinfo = url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[0]
        if ":" in userinfo:
            found.add(userinfo.split(":", 1)[1])
        self._secrets = tuple(sorted((s for s in found if s), key=len, reverse=True))
        host = str(fields.get("host") or "")
        if ":" in host and "," not in host and not host.startswith("/"):
            host = f"[{host}]"  # an IPv6 address
        port = f":{fields['port']}" if fields.get("port") else ""
        user = f"{fields['user']}@" if fields.get("user") else ""
        self._shown = printable(f"postgresql://{user}{host}{port}/{fields.get('dbname') or ''}")
        for secret in self._secrets:  # a password that is also the user name or database is not shown either
            self._shown = self._shown.replace(secret, "********")

    def reveal(self) -> str:
        return self._url

    def redact(self, text: str) -> str:
        """`text` with every secret of this URL replaced by asterisks."""
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return text

    def __str__(self) -> str:
        return self._shown

    def __repr__(self) -> str:
        return f"PostgresURL({self._shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PostgresURL) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)


@dataclass(frozen=True)
class Settings:
    token: Secret | None = field(repr=False)
    seeds_dir: Path = Path("seeds")
    moderator_role_ids: frozenset[int] = frozenset()
    owner_ids: frozenset[int] = frozenset()  # empty: the application's owner (or its team)
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS
    semantic: bool = True  # sentence vectors (SEMANTIC=off: words only)
    # The question log, votes and cooldowns: a SQLite file or a PostgreSQL database; None: no log, no buttons.
    state_db: Path | PostgresURL | None = None
    question_log_days: int = DEFAULT_QUESTION_LOG_DAYS
    answer_in_thread: bool = True  # a mention in a channel is answered in a new thread, when allowed there
    message_content: bool = False  # the privileged intent: answer every message in the bot's own threads
    shard_count: int | None = None  # None: as many shards as Discord recommends
    shard_ids: tuple[int, ...] | None = None  # None: every shard; else only these run in this process
    # IDENTIFYs across this machine's processes: `identify_concurrency` per `identify_seconds`, one per
    # bucket shard_id % identify_concurrency (Discord's max_concurrency). The interval is Discord's, not a
    # setting; tests shorten it.
    identify_concurrency: int = 1
    identify_seconds: float = IDENTIFY_SECONDS
    # Links and feeds: the private networks they may point into (FETCH_ALLOW_NETWORKS; none by default), how
    # often feeds are polled, how many new articles one poll adds, where new articles are announced.
    fetch_policy: AddressPolicy = field(default_factory=AddressPolicy)
    feed_poll_minutes: float = DEFAULT_FEED_POLL_MINUTES
    feed_max_new: int = DEFAULT_FEED_MAX_NEW
    feed_announce_channel: int | None = None

    @property
    def shards(self) -> str:
        """The shards this process runs, for logs: e.g. "shards 0-3 of 8", or "shards as Discord recommends"."""
        if self.shard_count is None:
            return "shards as Discord recommends"
        ids = self.shard_ids if self.shard_ids is not None else tuple(range(self.shard_count))
        return f"shards {format_shard_ids(ids)} of {self.shard_count}"

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError(
                "DISCORD_TOKEN is not set: put DISCORD_TOKEN=<your bot token> in .env (see .env.example) "
                "or in the environment."
            )
        return self.token.reveal()

    @property
    def log_level_number(self) -> int:
        return int(logging.getLevelName(self.log_level))


def discord_id(text: str) -> int | None:
    """`text` as a Discord id (a snowflake), or None when it is not one.

    ASCII digits only: str.isdigit() also accepts "²" and "①", which int() refuses. At most MAX_DISCORD_ID,
    so that every id fits the databases' 64-bit integers.
    """
    if text.isascii() and text.isdigit() and len(text) <= 20 and int(text) <= MAX_DISCORD_ID:
        return int(text)
    return None


def _ids(name: str, raw: str) -> frozenset[int]:
    ids = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        number = discord_id(part)
        if number is None:
            raise ConfigError(f"{name} must be comma-separated numeric Discord ids (got {part!r}); fix it in .env.")
        ids.add(number)
    return frozenset(ids)


def parse_shard_ids(raw: str) -> tuple[int, ...]:
    """`0-3`, `4,5,7` or `0-3,8`: the shard ids in order, each once. Raises ValueError when malformed."""
    ids: list[int] = []
    for part in raw.replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if not (first.isascii() and first.isdigit()) or (dash and not (last.isascii() and last.isdigit())):
            raise ValueError(part)
        start, end = int(first), int(last) if dash else int(first)
        if end < start or end - start > MAX_SHARDS:
            raise ValueError(part)
        ids.extend(range(start, end + 1))
    return tuple(dict.fromkeys(ids))


def format_shard_ids(ids: tuple[int, ...] | list[int] | range) -> str:
    """The shard ids as SHARD_IDS writes them: runs of consecutive ids as `a-b`."""
    runs: list[str] = []
    ordered = sorted(ids)
    start = 0
    for at in range(1, len(ordered) + 1):
        if at == len(ordered) or ordered[at] != ordered[at - 1] + 1:
            first, last = ordered[start], ordered[at - 1]
            runs.append(str(first) if first == last else f"{first}-{last}")
            start = at
    return ",".join(runs)


def _shards(env: Mapping[str, str]) -> tuple[int | None, tuple[int, ...] | None]:
    raw_count = env.get("SHARD_COUNT", "").strip()
    raw_ids = env.get("SHARD_IDS", "").strip()
    count = None
    if raw_count:
        count = int(raw_count) if raw_count.isascii() and raw_count.isdigit() else 0
        if not 1 <= count <= MAX_SHARDS:
            raise ConfigError(
                f"SHARD_COUNT must be a whole number of shards from 1 to {MAX_SHARDS:,} (got {raw_count!r}); "
                "fix it in .env."
            )
    if not raw_ids:
        return count, None
    if count is None:
        raise ConfigError("SHARD_IDS needs SHARD_COUNT (the total number of shards): set both in .env.")
    try:
        ids = parse_shard_ids(raw_ids)
    except ValueError:
        raise ConfigError(
            f"SHARD_IDS must be shard numbers and ranges such as 0-3 or 0,2,5 (got {raw_ids!r}); fix it in .env."
        ) from None
    if max(ids) >= count:
        raise ConfigError(
            f"SHARD_IDS names shard {max(ids)}, but shards are numbered 0 to {count - 1} "
            f"(SHARD_COUNT={count}); fix it in .env."
        )
    return count, ids


def _identify_concurrency(raw: str) -> int:
    number = int(raw) if raw.isascii() and raw.isdigit() else 0
    if not 1 <= number <= MAX_IDENTIFY_CONCURRENCY:
        raise ConfigError(
            f"IDENTIFY_CONCURRENCY must be a whole number from 1 to {MAX_IDENTIFY_CONCURRENCY:,}, the "
            f"max_concurrency Discord gives the bot (got {raw!r}); fix it in .env."
        )
    return number


def _state_db(raw: str) -> Path | PostgresURL | None:
    if raw.lower() == STATE_DB_OFF:
        return None
    if not raw:
        return default_state_db()
    if raw.lower().startswith(PostgresURL.SCHEMES):
        return PostgresURL(raw)
    if "://" in raw:
        raise ConfigError(
            "STATE_DB must be a file path (SQLite), a postgresql:// URL or off "
            f"(got a {raw.split('://')[0]}:// URL); fix it in .env."
        )
    return Path(raw).expanduser()


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    try:
        return env_flag(name, env.get(name, ""), default)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _fetch_policy(raw: str) -> AddressPolicy:
    try:
        return AddressPolicy.parse(raw)
    except ValueError:
        raise ConfigError(
            "FETCH_ALLOW_NETWORKS must be networks such as 10.0.0.0/8 or 192.168.1.5, comma-separated "
            f"(got {raw[:80]!r}); fix it in .env."
        ) from None


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, what: str) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigError(f"{name} must be {what} from {low:g} to {high:g} (got {raw!r}); fix it in .env.")
    return value


def _channel(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    number = discord_id(raw)
    if number is None:
        raise ConfigError(f"{name} must be a numeric channel id (got {raw!r}); fix it in .env.")
    return number


def load_settings(environ: Mapping[str, str] | None = None, *, require_token: bool = True) -> Settings:
    """Settings from `environ` (default: os.environ, which the CLI fills from .env first)."""
    env = os.environ if environ is None else environ
    token = env.get("DISCORD_TOKEN", "").strip()
    dev_guild = env.get("DEV_GUILD_ID", "").strip()
    dev_guild_id = discord_id(dev_guild) if dev_guild else None
    if dev_guild and dev_guild_id is None:
        raise ConfigError(f"DEV_GUILD_ID must be a numeric server id (got {dev_guild!r}); fix it in .env.")
    log_level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {log_level!r}); fix it in .env.")
    raw_cooldown = env.get("ASK_COOLDOWN_SECONDS", "").strip()
    try:
        cooldown = float(raw_cooldown) if raw_cooldown else DEFAULT_COOLDOWN_SECONDS
    except ValueError:
        cooldown = -1.0
    if not 0 <= cooldown <= MAX_COOLDOWN_SECONDS:
        raise ConfigError(
            f"ASK_COOLDOWN_SECONDS must be a number of seconds from 0 to {MAX_COOLDOWN_SECONDS} "
            f"(got {raw_cooldown!r}); fix it in .env."
        )
    raw_days = env.get("QUESTION_LOG_DAYS", "").strip()
    if not raw_days:
        days = DEFAULT_QUESTION_LOG_DAYS
    else:
        days = int(raw_days) if raw_days.isascii() and raw_days.isdigit() else -1
    if not 0 <= days <= MAX_QUESTION_LOG_DAYS:
        raise ConfigError(
            f"QUESTION_LOG_DAYS must be a whole number of days from 0 to {MAX_QUESTION_LOG_DAYS} "
            f"(got {raw_days!r}); fix it in .env."
        )
    shard_count, shard_ids = _shards(env)
    state_db = _state_db(env.get("STATE_DB", "").strip())
    settings = Settings(
        token=Secret(token) if token else None,
        seeds_dir=Path(env.get("SEEDS_DIR", "").strip() or "seeds"),
        moderator_role_ids=_ids("MODERATOR_ROLE_IDS", env.get("MODERATOR_ROLE_IDS", "")),
        owner_ids=_ids("OWNER_IDS", env.get("OWNER_IDS", "")),
        dev_guild_id=dev_guild_id,
        log_level=log_level,
        cooldown_seconds=cooldown,
        state_db=state_db,
        question_log_days=days,
        answer_in_thread=_flag(env, "ANSWER_IN_THREAD", True),
        message_content=_flag(env, "MESSAGE_CONTENT", False),
        semantic=_flag(env, "SEMANTIC", True),
        shard_count=shard_count,
        shard_ids=shard_ids,
        identify_concurrency=_identify_concurrency(env.get("IDENTIFY_CONCURRENCY", "").strip() or "1"),
        fetch_policy=_fetch_policy(env.get("FETCH_ALLOW_NETWORKS", "")),
        feed_poll_minutes=_number(
            env,
            "FEED_POLL_MINUTES",
            DEFAULT_FEED_POLL_MINUTES,
            MIN_FEED_POLL_MINUTES,
            MAX_FEED_POLL_MINUTES,
            "a number of minutes",
        ),
        feed_max_new=int(
            _number(env, "FEED_MAX_NEW", DEFAULT_FEED_MAX_NEW, 1, MAX_FEED_MAX_NEW, "a whole number of articles")
        ),
        feed_announce_channel=_channel(env, "FEED_ANNOUNCE_CHANNEL"),
    )
    if require_token:
        settings.require_token()
    return settings
