"""Each test keeps to folders of its own (issue 23, finding 15): what one test run writes, another run on the
same machine never sees, and nothing goes to the system's temporary folder or the user's cache."""

import os
import tempfile
from pathlib import Path

import pytest


def test_temporary_files_go_to_a_folder_of_this_tests_own(tmp_path_factory: pytest.TempPathFactory) -> None:
    own = Path(tempfile.gettempdir())
    assert own.is_relative_to(tmp_path_factory.getbasetemp())  # this run's, not the system's /tmp
    assert os.environ["TMPDIR"] == str(own)  # also for the worker processes a test starts
    assert list(own.iterdir()) == []  # and this test's alone: empty as it starts
    with tempfile.NamedTemporaryFile() as made:
        assert Path(made.name).parent == own


def test_caches_and_the_state_database_are_this_runs_or_this_clones() -> None:
    home = Path.home()
    for name in ("INDEX_CACHE_DIR", "STATE_DB"):
        path = Path(os.environ[name])
        assert not path.is_relative_to(home / ".cache") and not path.is_relative_to(home / ".local"), name
