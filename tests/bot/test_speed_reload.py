"""A reload keeps the event loop running, and closes the index it replaced once no question reads it."""

import asyncio
import gc
import os
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import bot.index_holder
from bot.index_holder import IndexHolder, Leases
from index import Answer, SearchIndex, build_index
from index.storage.reader import ClosedIndex
from index.storage.store import CACHE_ENV
from testkit.discord_harness import WAIT_SECONDS
from tests.helpers import write_corpus


async def test_a_replaced_index_is_closed_once_no_question_reads_it(tmp_path: Path) -> None:
    write_corpus(tmp_path, articles=12)
    holder = await IndexHolder.build(tmp_path)
    old = holder.index
    report = await holder.reload()
    assert report.error is None
    assert holder.index is not old
    assert old.closed and not holder.index.closed
    with pytest.raises(ClosedIndex):
        old.sentence(0)


async def test_an_index_still_read_when_replaced_is_closed_when_the_reading_ends(tmp_path: Path) -> None:
    write_corpus(tmp_path, articles=12)
    holder = await IndexHolder.build(tmp_path)
    leases = holder._serving
    old = leases.take()  # as a question being answered from it holds it
    report = await holder.reload()
    assert report.error is None
    assert not old.closed
    assert old.search("Bako rime tuko?", 3) == holder.index.search("Bako rime tuko?", 3)
    leases.give_back()
    assert old.closed


async def test_a_replaced_index_is_unmapped_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Unmapping a replaced file frees its pages from the page cache: tens of ms at a million sentences.
    write_corpus(tmp_path, articles=12)
    holder = await IndexHolder.build(tmp_path)
    closed_in: list[threading.Thread] = []
    real_close = SearchIndex.close

    def recording_close(self: SearchIndex) -> None:
        closed_in.append(threading.current_thread())
        real_close(self)

    monkeypatch.setattr(SearchIndex, "close", recording_close)
    read = threading.Event()
    replaced = threading.Event()
    real_ask = SearchIndex.ask

    def ask_across_the_swap(self: SearchIndex, question: str, k: int = 3) -> Answer:
        read.set()
        assert replaced.wait(WAIT_SECONDS)  # still reading when the reload swaps: the last reader closes it
        return real_ask(self, question, k)

    report = await holder.reload()  # no question reads the replaced index: closed by the reload
    monkeypatch.setattr(SearchIndex, "ask", ask_across_the_swap)
    asking = asyncio.create_task(holder.ask("Bako rime tuko?", 3))
    await asyncio.to_thread(read.wait, WAIT_SECONDS)
    monkeypatch.setattr(SearchIndex, "ask", real_ask)
    second = await holder.reload()
    replaced.set()
    answer = await asking
    assert report.error is None and second.error is None and len(answer.hits) == 3
    assert len(closed_in) == 2 and threading.main_thread() not in closed_in


def test_a_retired_index_is_not_leased_again(tmp_path: Path) -> None:
    write_corpus(tmp_path, articles=3)
    index, _ = build_index(tmp_path, use_cache=False)
    leases = Leases(index)
    assert leases.take_unless_retired() is index
    leases.retire()
    assert leases.take_unless_retired() is None and leases.readers == 1 and not index.closed
    leases.give_back()
    assert index.closed


async def test_questions_asked_during_a_reload_are_answered_and_lease_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_corpus(tmp_path, articles=12)
    holder = await IndexHolder.build(tmp_path)
    seen: list[int] = []
    real_ask = SearchIndex.ask

    def counting_ask(self: SearchIndex, question: str, k: int = 3) -> Answer:
        seen.append(holder._serving.readers if self is holder.index else -1)
        return real_ask(self, question, k)

    monkeypatch.setattr(SearchIndex, "ask", counting_ask)
    answers = await asyncio.gather(holder.ask("Bako rime tuko?", 3), holder.reload(), holder.ask("Bako?", 1))
    assert [len(answers[0].hits), len(answers[2].hits)] == [3, 1]
    assert all(readers != 0 for readers in seen)  # every reading held a lease
    assert holder._serving.readers == 0


async def test_questions_are_answered_from_the_old_index_while_the_bot_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_corpus(tmp_path / "seeds", articles=40)
    holder = await IndexHolder.build(tmp_path / "seeds")
    monkeypatch.setattr(bot.index_holder, "WORKER_MIN_BYTES", 0)  # rebuilt in a worker process, as a large folder
    real_build = bot.index_holder.build_in_worker
    answered_meanwhile = threading.Event()
    built_in_worker: list[Path] = []

    def build_once_a_question_is_answered(folder: Path, **options: Any) -> object:
        # The rebuild (whose worker thread waits for its worker process) waits for a question to be answered:
        # on any machine, the question is answered while the reload runs, from the index serving until the swap.
        assert answered_meanwhile.wait(WAIT_SECONDS)
        built_in_worker.append((folder, options))
        return real_build(folder, **options)

    monkeypatch.setattr(bot.index_holder, "build_in_worker", build_once_a_question_is_answered)
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
    assert built_in_worker == [(tmp_path / "seeds", {"nice": bot.index_holder.WORKER_NICE})] * 2  # lower: it serves


@pytest.mark.slow
def test_the_serving_index_keeps_its_sentences_in_the_file_not_in_memory(tmp_path: Path) -> None:
    write_corpus(tmp_path, articles=400)  # about 10,000 sentences
    text_bytes = sum(path.stat().st_size for path in tmp_path.iterdir())
    first, _ = build_index(tmp_path, use_cache=False)  # fills the word caches and loads the passage tokenizer
    first.search("Bako rime tuko?", 3)
    first.close()
    gc.collect()
    tracemalloc.start()
    try:
        index, report = build_index(tmp_path, use_cache=False)
        index.search("Bako rime tuko?", 3)
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.sentences > 9_000
    # What stays allocated is per question (one score per sentence) and per article, not the text.
    assert kept < 8 * report.sentences + text_bytes // 4, (kept, text_bytes)
