"""The bot's log lines: coloured on a terminal only, never with NO_COLOR, never in a file or a pipe (discord.py's
own setup colours any stream when /.dockerenv exists, so a container's log file filled with escape codes)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import discord
import pytest

from bot.config import load_settings
from bot.launch import _setup_logging
from tests.helpers import Terminal


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def logged(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    _setup_logging(load_settings({}, require_token=False))
    logging.getLogger("bot.test").warning("Sentence vectors are unavailable.")
    return stream.getvalue()


@pytest.mark.usefixtures("root_logging")
def test_a_log_file_gets_no_colour_codes_even_in_a_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord.utils, "is_docker", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    line = logged(monkeypatch, io.StringIO())
    assert "\033[" not in line
    assert line.endswith("] [WARNING ] bot.test: Sentence vectors are unavailable.\n")


@pytest.mark.usefixtures("root_logging")
def test_a_terminal_gets_colour_unless_no_color_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\033[" in logged(monkeypatch, Terminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in logged(monkeypatch, Terminal())
