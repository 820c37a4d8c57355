"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server.

PostgreSQL is started once per test session on loopback (see ``tests/conftest_pg.py``) and each
test gets a fresh database. Without server binaries the PostgreSQL variants are skipped, except
under ``CI=true`` where that is a failure: CI must test what production runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_pg import PostgresServer, start_or_skip

from fanzha.store import Store


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session."""
    server = start_or_skip()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty store: a new SQLite file, or a new PostgreSQL schema.

    (A schema per test: CREATE DATABASE costs a checkpoint, about 0.4 s, a schema milliseconds;
    the store never names a schema, so ``search_path`` isolates it fully.)
    """
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'store' / 'fanzha.db').as_posix()}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_schema()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated store on a fresh database."""
    opened = Store.open_url(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def dialect(store_url: str) -> str:
    """``sqlite`` or ``postgresql``."""
    return "sqlite" if store_url.startswith("sqlite") else "postgresql"
