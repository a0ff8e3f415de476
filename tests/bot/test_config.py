"""Settings from the environment, and the bot's command line: run, sync, check."""

from __future__ import annotations

import json
import logging

import pytest

import bot.launch
from bot import create_bot
from bot.cli import main
from bot.config import ConfigError, Secret, load_settings
from index import EmptyIndexError, build_index
from testkit.discord_harness import APP_ID, FakeDiscord, seeds_folder

TOKEN = "MTEx.very-secret-token.value"


def test_settings_parse_every_variable(tmp_path):
    settings = load_settings(
        {
            "DISCORD_TOKEN": f" {TOKEN} ",
            "SEEDS_DIR": str(tmp_path),
            "MODERATOR_ROLE_IDS": "11, 22,",
            "OWNER_IDS": "33",
            "DEV_GUILD_ID": "44",
            "LOG_LEVEL": "debug",
            "ASK_COOLDOWN_SECONDS": "2.5",
        }
    )
    assert settings.require_token() == TOKEN
    assert settings.seeds_dir == tmp_path
    assert settings.moderator_role_ids == {11, 22}
    assert settings.owner_ids == {33}
    assert settings.dev_guild_id == 44
    assert settings.log_level == "DEBUG" and settings.log_level_number == logging.DEBUG
    assert settings.cooldown_seconds == 2.5
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.token) and TOKEN not in repr(Secret(TOKEN))


def test_defaults_without_a_token_when_none_is_required():
    settings = load_settings({}, require_token=False)
    assert (settings.token, str(settings.seeds_dir), settings.owner_ids, settings.dev_guild_id) == (
        None,
        "seeds",
        frozenset(),
        None,
    )
    assert settings.cooldown_seconds == 5.0
    assert (settings.feed_poll_minutes, settings.feed_max_new, settings.feed_announce_channel) == (30.0, 20, None)
    assert settings.fetch_policy.allowed == ()


def test_feed_and_fetch_settings_are_read():
    settings = load_settings(
        {
            "FETCH_ALLOW_NETWORKS": "10.0.0.0/8, 192.168.1.5",
            "FEED_POLL_MINUTES": "15",
            "FEED_MAX_NEW": "5",
            "FEED_ANNOUNCE_CHANNEL": "123",
        },
        require_token=False,
    )
    assert [str(n) for n in settings.fetch_policy.allowed] == ["10.0.0.0/8", "192.168.1.5/32"]
    assert (settings.feed_poll_minutes, settings.feed_max_new, settings.feed_announce_channel) == (15.0, 5, 123)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "DISCORD_TOKEN is not set: put DISCORD_TOKEN=<your bot token> in .env (see .env.example)"),
        ({"DISCORD_TOKEN": "t", "OWNER_IDS": "12,abc"}, "OWNER_IDS must be comma-separated numeric Discord ids"),
        ({"DISCORD_TOKEN": "t", "DEV_GUILD_ID": "x"}, "DEV_GUILD_ID must be a numeric server id"),
        # str.isdigit() accepts superscript and other Unicode digits; int() refuses them.
        ({"DISCORD_TOKEN": "t", "DEV_GUILD_ID": "4²"}, "DEV_GUILD_ID must be a numeric server id (got '4²')"),
        ({"DISCORD_TOKEN": "t", "OWNER_IDS": "1,²"}, "OWNER_IDS must be comma-separated numeric Discord ids"),
        ({"DISCORD_TOKEN": "t", "MODERATOR_ROLE_IDS": "①"}, "MODERATOR_ROLE_IDS must be comma-separated numeric"),
        ({"DISCORD_TOKEN": "t", "OWNER_IDS": "٣"}, "OWNER_IDS must be comma-separated numeric Discord ids"),
        ({"DISCORD_TOKEN": "t", "LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of DEBUG, INFO"),
        ({"DISCORD_TOKEN": "t", "ASK_COOLDOWN_SECONDS": "-1"}, "ASK_COOLDOWN_SECONDS must be a number of seconds"),
        (
            {"DISCORD_TOKEN": "t", "FETCH_ALLOW_NETWORKS": "10.0.0.0/33"},
            "FETCH_ALLOW_NETWORKS must be networks such as 10.0.0.0/8 or 192.168.1.5, comma-separated "
            "(got '10.0.0.0/33'); fix it in .env.",
        ),
        (
            {"DISCORD_TOKEN": "t", "FEED_POLL_MINUTES": "1"},
            "FEED_POLL_MINUTES must be a number of minutes from 5 to 1440 (got '1'); fix it in .env.",
        ),
        (
            {"DISCORD_TOKEN": "t", "FEED_MAX_NEW": "many"},
            "FEED_MAX_NEW must be a whole number of articles from 1 to 200 (got 'many'); fix it in .env.",
        ),
        ({"DISCORD_TOKEN": "t", "FEED_ANNOUNCE_CHANNEL": "#news"}, "FEED_ANNOUNCE_CHANNEL must be a numeric channel"),
    ],
)
def test_bad_settings_fail_with_one_line_naming_the_variable(environ, message):
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_create_bot_reads_the_environment_and_does_not_connect(monkeypatch, tmp_path):
    monkeypatch.setenv("SEEDS_DIR", str(tmp_path))
    monkeypatch.setenv("MODERATOR_ROLE_IDS", "5")
    created = create_bot()
    assert created.settings.seeds_dir == tmp_path
    assert created.settings.moderator_role_ids == {5}
    assert created.is_closed() is False and created.user is None
    assert created.allowed_mentions is not None and created.allowed_mentions.to_dict() == {"parse": []}


@pytest.fixture
def shell(monkeypatch, tmp_path):
    """A clean environment in an empty working directory (no .env), with logging setup left alone."""
    for name in (
        "DISCORD_TOKEN",
        "SEEDS_DIR",
        "OWNER_IDS",
        "MODERATOR_ROLE_IDS",
        "DEV_GUILD_ID",
        "LOG_LEVEL",
        "ASK_COOLDOWN_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bot.launch, "_setup_logging", lambda settings: None)
    fake = FakeDiscord()
    fake.install(monkeypatch)
    return fake


def test_run_without_a_token_prints_one_line_and_exits_2(shell, capsys):
    assert main(["run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "qa-bot: DISCORD_TOKEN is not set: put DISCORD_TOKEN=<your bot token> in .env (see .env.example) "
        "or in the environment.\n"
    )


def test_the_token_is_read_from_dotenv_and_a_rejected_one_prints_one_line(shell, capsys, tmp_path):
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nSEEDS_DIR={seeds_folder(tmp_path)}\n")
    shell.reject_token = True
    assert main(["run"]) == 2
    out, err = capsys.readouterr()
    assert err == f"qa-bot: {bot.launch.TOKEN_REJECTED}\n"
    assert TOKEN not in out + err
    assert [(c.method, c.path) for c in shell.calls] == [("GET", "/users/@me")]


def test_run_with_a_missing_seeds_folder_says_so_in_one_line(shell, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("SEEDS_DIR", str(tmp_path / "nowhere"))
    assert main(["run"]) == 2
    _, err = capsys.readouterr()
    with pytest.raises(EmptyIndexError) as core:  # the core's own words for it
        build_index(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(core.value)
    assert err == f"qa-bot: {core.value}\n"


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["sync"], "/applications/{application_id}/commands"),
        (["sync", "--guild", "77"], "/applications/{application_id}/guilds/{guild_id}/commands"),
        (["sync", "--guild"], "/applications/{application_id}/guilds/{guild_id}/commands"),  # DEV_GUILD_ID
    ],
)
def test_sync_registers_the_commands_and_exits(shell, capsys, monkeypatch, argv, path):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("DEV_GUILD_ID", "77")
    assert main(argv) == 0
    [put] = [c for c in shell.calls if c.method == "PUT"]
    assert put.path == path
    assert str(APP_ID) in put.url and (
        path.endswith("/applications/{application_id}/commands") or "/guilds/77/" in put.url
    )
    assert sorted(c["name"] for c in put.body) == ["article", "ask", "feed", "help", "reload", "sources", "stats"]
    out, _ = capsys.readouterr()
    assert out.startswith("Synced 7 commands ")
    assert out.rstrip().endswith("/ask, /sources, /help, /reload, /article, /feed, /stats")


@pytest.mark.parametrize("guild", ["²", "7⁷", "٣"])
def test_sync_to_a_guild_id_of_other_digits_is_one_line_and_exit_2(shell, capsys, monkeypatch, guild):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    assert main(["sync", "--guild", guild]) == 2
    assert capsys.readouterr() == ("", f"qa-bot: --guild takes a numeric server id (got {guild!r}).\n")
    assert shell.calls == []


def test_sync_to_the_dev_guild_needs_dev_guild_id(shell, capsys, monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    assert main(["sync", "--guild"]) == 2
    assert capsys.readouterr().err.startswith("qa-bot: --guild without an id uses DEV_GUILD_ID, which is not set")
    assert shell.calls == []


@pytest.mark.slow
def test_check_builds_everything_without_connecting(shell, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SEEDS_DIR", str(seeds_folder(tmp_path)))
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"Indexed 4 articles, 45 sentences from {tmp_path / 'seeds'}; loaded 6 extensions; "
        "7 global commands would be registered:"
    )
    assert [line.split(" (")[0].strip() for line in lines[1:]] == [
        "/ask question [passages] [article]",
        "/sources",
        "/help",
        "/reload",
        "/article [add] [remove] [show]",
        "/feed [add] [list] [remove]",
        "/stats [days]",
    ]
    assert lines[4].startswith("  /reload (server, bot DM; default permissions 32): ")
    assert shell.calls == []  # nothing was sent to Discord

    assert main(["check", "--json"]) == 0
    payloads = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in payloads] == ["ask", "sources", "help", "reload", "article", "feed", "stats"]


def test_an_unreachable_discord_is_one_line_and_exit_1(shell, capsys, monkeypatch, tmp_path):
    async def refuse(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr("discord.http.HTTPClient.request", refuse)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("SEEDS_DIR", str(seeds_folder(tmp_path)))
    assert main(["run"]) == 1
    assert capsys.readouterr().err == ("qa-bot: could not reach Discord (OSError): check the network and try again.\n")


def test_sync_to_a_server_the_bot_is_not_in_says_what_to_do(shell, capsys, monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    shell.forbidden_paths.add("/applications/{application_id}/guilds/{guild_id}/commands")
    assert main(["sync", "--guild", "77"]) == 2
    assert capsys.readouterr().err == (
        "qa-bot: Discord refused to register the commands in server 77: invite the bot there with the "
        "applications.commands scope (see the README), then sync again.\n"
    )
