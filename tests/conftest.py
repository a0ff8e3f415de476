import tempfile

import pytest

import tests.hypothesis_profile  # noqa: F401  (every hypothesis test: no deadline, bounded examples)

pytest_plugins = ["tests.state_backends"]  # new_state, state_location: SQLite and PostgreSQL


@pytest.fixture(autouse=True)
def _private_temporary_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the code makes with `tempfile` (a build's index mapped from a temporary file, vectors kept for one
    # run) goes to a folder of this test's own, in this process and in the worker processes it spawns
    # (TMPDIR), never the system's: another test run on the machine can neither see it nor put anything there.
    folder = tmp_path_factory.mktemp("tmp")
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))


@pytest.fixture(autouse=True)
def _private_index_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Saved indexes go to a per-run folder, never the user's cache, so tests neither read nor leave one there.
    monkeypatch.setenv("INDEX_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "index-cache"))
    # Likewise the question log: never the user's data folder.
    monkeypatch.setenv("STATE_DB", str(tmp_path_factory.getbasetemp() / "state" / "state.sqlite3"))


@pytest.fixture
async def site():
    """A news site on 127.0.0.2 with pages and an RSS feed (testkit/web_site.py), for one test."""
    from testkit.web_site import FeedSite

    started = await FeedSite().start()
    yield started
    await started.stop()
