"""The shared state's two databases for tests: a SQLite file, and a schema of its own in a PostgreSQL database.

The PostgreSQL cases need TEST_POSTGRES_URL (`.ci/postgres` starts a local server and prints one). Without it
they skip, saying so; under CI (CI=true) they fail instead, so a CI run never passes without them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from bot.config import PostgresURL
from bot.questionlog.database import StateLocation

HOW_TO = (
    "the PostgreSQL cases need a server: run `export TEST_POSTGRES_URL=$(.ci/postgres)` "
    "(it installs and starts a local one if needed), or set TEST_POSTGRES_URL=postgresql://user:password@host/db"
)

NewLocation = Callable[[str], StateLocation]


def postgres_server() -> str:
    """TEST_POSTGRES_URL; skips the test without it (fails it under CI)."""
    url = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if not url:
        if os.environ.get("CI", "").strip().lower() in ("true", "1"):
            pytest.fail(f"CI=true but TEST_POSTGRES_URL is not set: {HOW_TO}.", pytrace=False)
        pytest.skip(HOW_TO)
    return url


def in_schema(url: str, schema: str) -> str:
    """`url` with the schema first on its search path (libpq's `options` parameter)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def new_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewLocation]:
    """Makes empty state databases of one kind (both kinds in turn): `new_state("name")`."""
    if request.param == "sqlite":
        yield lambda name: tmp_path / f"{name}.sqlite3"
    else:
        yield from _postgres_schemas()


@pytest.fixture
def postgres_state() -> Iterator[PostgresURL]:
    """One empty PostgreSQL state database, for what only PostgreSQL does."""
    for new in _postgres_schemas():
        yield new("state")


def _postgres_schemas() -> Iterator[Callable[[str], PostgresURL]]:
    server = postgres_server()
    schemas: list[str] = []

    def new(name: str) -> PostgresURL:
        schema = f"qa_test_{name}_{secrets.token_hex(6)}"
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
        schemas.append(schema)
        return PostgresURL(in_schema(server, schema))

    yield new
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
        for schema in schemas:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]


@pytest.fixture
def state_location(new_state: NewLocation) -> StateLocation:
    """One empty state database, SQLite and PostgreSQL in turn."""
    return new_state("state")
