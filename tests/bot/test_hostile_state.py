"""The shared state (STATE_DB) under hostile settings and files: its secrets never shown, another program's
database never written, and no wait without a bound.

Each case is one a hostile tester reproduced (issue 23); the PostgreSQL ones run against TEST_POSTGRES_URL.
"""

from __future__ import annotations

import logging

import psycopg
import pytest

from bot.cli import main
from bot.config import UNREADABLE_POSTGRES_URL, ConfigError, PostgresURL, load_settings
from tests.discord_harness import EPHEMERAL, MANAGE_GUILD, Harness, seeds_folder, settings_for
from tests.state_backends import postgres_server

SECRET = "hunter2"
# URLs libpq cannot read, each holding the password: its parser's message quotes the token it refuses.
UNREADABLE = [
    f"postgresql://bob:{SECRET} secret@127.0.0.1:1/qa",  # an un-encoded space
    f"postgresql://bob:{SECRET}%zz@127.0.0.1:1/qa",  # an un-encoded %
    f"postgresql://bob:{SECRET}@[::1/qa",  # an IPv6 host without its closing bracket
]


@pytest.mark.parametrize("url", UNREADABLE)
def test_an_unreadable_postgresql_url_is_one_sentence_without_the_password(url):
    with pytest.raises(ConfigError) as raised:
        load_settings({"STATE_DB": url}, require_token=False)
    assert str(raised.value) == UNREADABLE_POSTGRES_URL
    assert SECRET not in str(raised.value)
    assert raised.value.__suppress_context__  # libpq's own message is not chained into a traceback either


@pytest.mark.parametrize("url", UNREADABLE)
@pytest.mark.parametrize("command", [["stats"], ["run"], ["check"]])
def test_no_command_prints_the_password_of_an_unreadable_url(url, command, monkeypatch, capsys):
    monkeypatch.setenv("STATE_DB", url)
    monkeypatch.setenv("DISCORD_TOKEN", "MTEx.not-a-real.token")
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"qa-bot: {UNREADABLE_POSTGRES_URL}\n")


def test_a_readable_url_shows_no_secret_in_any_form():
    url = PostgresURL(
        f"postgresql://bob:{SECRET}%40x@[::1]:5/qa?sslpassword=keypass&options=-csearch_path%3Dq&password={SECRET}%40x"
    )
    assert str(url) == "postgresql://bob@[::1]:5/qa"
    assert repr(url) == "PostgresURL('postgresql://bob@[::1]:5/qa')"
    # A message quoting a secret, as written in the URL or decoded, has it cut out.
    assert url.redact(f"bad {SECRET}@x, {SECRET}%40x and keypass") == "bad ********, ******** and ********"
    # A password that is also the user name is not shown as the user name either.
    assert str(PostgresURL(f"postgresql://{SECRET}:{SECRET}@db/qa")) == "postgresql://********@db/qa"


def login_refused_url() -> str:
    """The test server's URL with a user named as its (wrong) password: the server's refusal quotes the user."""
    info = psycopg.conninfo.conninfo_to_dict(postgres_server())
    return f"postgresql://{SECRET}:{SECRET}@{info['host']}:{info.get('port', 5432)}/{info['dbname']}"


def test_stats_with_a_refused_login_says_to_check_them_and_shows_no_password(monkeypatch, capsys):
    monkeypatch.setenv("STATE_DB", login_refused_url())
    assert main(["stats"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("qa-bot: could not read the question log at postgresql://********@")
    assert "(the PostgreSQL server refused the user name or password in STATE_DB (" in err
    assert err.endswith("): check them).\n")
    assert "start it" not in err and SECRET not in err and err.count("\n") == 1


async def test_the_bot_with_a_refused_login_logs_and_replies_without_the_password(tmp_path, monkeypatch, caplog):
    settings = settings_for(seeds_folder(tmp_path), state_db=PostgresURL(login_refused_url()))
    caplog.set_level(logging.DEBUG)
    async with Harness(monkeypatch) as harness:
        events = await harness.start(settings)
        _, reply = await harness.fake.wait_interaction(events.command("stats", {}, permissions=MANAGE_GUILD), 2)
    assert reply.body["flags"] == EPHEMERAL
    assert reply.body["content"].startswith(
        "The question log is unavailable (the PostgreSQL server refused the user name or password in STATE\\_DB ("
    )
    assert SECRET not in reply.body["content"]
    assert "refused the user name or password" in caplog.text
    assert SECRET not in caplog.text
