import gc
from collections.abc import Iterator

import pytest

import tests.hypothesis_profile  # noqa: F401  (every hypothesis test: no deadline, bounded examples)
from bot.index_holder import keep_out_of_full_collections


@pytest.fixture(autouse=True)
def _private_index_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Saved indexes go to a per-run folder, never the user's cache, so tests neither read nor leave one there.
    monkeypatch.setenv("INDEX_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "index-cache"))


@pytest.fixture
def frozen_like_the_bot() -> Iterator[None]:
    # The bot freezes what it holds after start-up and after each reload, so the collector's full
    # passes (which hold the GIL) walk only what is new. A loop-lag probe must run in the same
    # conditions, or it measures a full pass over the test runner's own objects.
    keep_out_of_full_collections(collect=True)
    yield
    gc.unfreeze()
