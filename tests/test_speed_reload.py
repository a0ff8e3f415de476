"""A reload keeps the event loop running, and frees the index it replaced off the event loop,
once no question still reads it."""

import asyncio
import gc
import os
import threading
import weakref
from pathlib import Path

import pytest

import bot.index_holder
from bot.index_holder import IndexHolder
from index.store import CACHE_ENV
from tests.discord_harness import WAIT_SECONDS
from tests.helpers import write_corpus


def freed_in(index_holder: IndexHolder) -> list[int]:
    """The thread idents that free the serving index's first article (filled when it is freed)."""
    threads: list[int] = []
    weakref.finalize(index_holder.index.articles[0], lambda: threads.append(threading.get_ident()))
    return threads


async def test_a_replaced_index_is_freed_in_a_worker_thread(tmp_path: Path) -> None:
    write_corpus(tmp_path, articles=12)
    holder = await IndexHolder.build(tmp_path)
    threads = freed_in(holder)
    report = await holder.reload()
    assert report.error is None
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()  # the event loop's thread


async def test_an_index_still_read_when_replaced_is_freed_after_the_reading_ends(tmp_path: Path) -> None:
    write_corpus(tmp_path, articles=12)
    holder = await IndexHolder.build(tmp_path)
    threads = freed_in(holder)
    reading = [holder.index]  # as a question being answered from it holds it
    asyncio.get_running_loop().call_later(0.2, reading.clear)  # the question ends, on the event loop
    report = await holder.reload()
    assert report.error is None
    assert reading == []
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_questions_are_answered_from_the_old_index_while_the_bot_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_corpus(tmp_path / "seeds", articles=40)
    holder = await IndexHolder.build(tmp_path / "seeds")
    real_build = bot.index_holder.build_index
    answered_meanwhile = threading.Event()

    def build_once_a_question_is_answered(folder: Path) -> object:
        # The rebuild (in its worker thread) waits for a question to be answered: on any machine, the
        # question is answered while the reload runs, from the index serving until the swap.
        assert answered_meanwhile.wait(WAIT_SECONDS)
        return real_build(folder)

    monkeypatch.setattr(bot.index_holder, "build_index", build_once_a_question_is_answered)
    for saved in Path(os.environ[CACHE_ENV]).glob("index-*.bin"):
        saved.unlink()  # the first reload rebuilds from the files, the second loads what it saved
    for from_cache in (False, True):
        answered_meanwhile.clear()
        serving = holder.index
        reloading = asyncio.create_task(holder.reload())
        while not holder.reloading:
            await asyncio.sleep(0)
        answer = await holder.ask("Bako rime tuko?", 3)
        assert holder.reloading and holder.index is serving
        assert len(answer.hits) == 3
        answered_meanwhile.set()
        report = await reloading
        assert report.error is None
        assert holder.last_build.from_cache is from_cache
        assert report.articles == 40
        assert holder.index is not serving


@pytest.mark.usefixtures("frozen_like_the_bot")
async def test_the_new_index_is_kept_out_of_full_collections(tmp_path: Path) -> None:
    write_corpus(tmp_path, articles=12)
    holder = await IndexHolder.build(tmp_path)
    await holder.reload()
    article = holder.index.articles[0]
    # gc.get_objects() lists the objects a collection walks; frozen ones are not among them.
    assert not any(found is article for found in gc.get_objects())
    gc.unfreeze()
    assert any(found is article for found in gc.get_objects())
