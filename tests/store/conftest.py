"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server.

PostgreSQL is started once per test session on loopback (see ``tests/conftest_pg.py``) and each
test gets a fresh database. Without server binaries the PostgreSQL variants are skipped, except
under ``CI=true`` where that is a failure: CI must test what production runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_pg import PostgresServer, PostgresUnavailableError, start_postgres

from fanzha.store import Store


def on_ci() -> bool:
    """Whether we run under CI, where a missing PostgreSQL is an error, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def start_or_skip() -> PostgresServer:
    """Start a server, or skip (fail on CI) when there are no server binaries."""
    try:
        return start_postgres()
    except PostgresUnavailableError as missing:
        if on_ci():
            pytest.fail(f"CI=true: {missing}")
        pytest.skip(str(missing))


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
    """The URL of a fresh, empty database: a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'store' / 'fanzha.db').as_posix()}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


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
