"""Migrations agree with the models, upgrades are repeatable, and SQLite runs in WAL mode."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest_pg import PostgresServer
from sqlalchemy import Engine, event, inspect

from fanzha.ingest.deadletter import DeadLetter
from fanzha.settings import Settings
from fanzha.store import Store
from fanzha.store.db import (
    UnsupportedDatabaseError,
    alembic_config,
    current_revision,
    make_engine,
    normalise_url,
    upgrade,
)
from fanzha.store.tables import Base

TABLES = {
    "dead_letters",
    "ingest_runs",
    "persons",
    "org_units",
    "indicators",
    "indicator_changes",
    "warnings",
    "instructions",
    "users",
    "api_tokens",
    "sessions",
    "login_attempts",
    "audit_log",
    "cases",
    "orders",
    "alembic_version",
}


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    made = make_engine(store_url)
    try:
        yield made
    finally:
        made.dispose()


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_the_migration_creates_exactly_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert differences(engine) == []
    assert set(inspect(engine).get_table_names()) == TABLES
    assert current_revision(engine) == head()


def test_the_indexes_are_there(engine: Engine) -> None:
    upgrade(engine)
    found = inspect(engine)
    assert {i["name"] for i in found.get_indexes("dead_letters")} >= {
        "ix_dead_letters_status",
        "ix_dead_letters_created_at",
        "ix_dead_letters_source",
    }
    assert {i["name"] for i in found.get_indexes("persons")} == {"ix_persons_community"}
    assert {i["name"] for i in found.get_indexes("org_units")} == {"ix_org_units_parent_code"}
    assert [u["column_names"] for u in found.get_unique_constraints("dead_letters")] == [["key"]]
    [fk] = found.get_foreign_keys("org_units")
    assert (fk["referred_table"], fk["constrained_columns"]) == ("org_units", ["parent_code"])


def test_a_second_open_is_a_no_op_upgrade(store_url: str) -> None:
    with Store.open_url(store_url) as first:
        first.dead_letters.add_many([DeadLetter("a.csv", "row 1", None, None, "bad", b"x")])
    with Store.open_url(store_url, migrate=False) as second:
        ddl: list[str] = []

        def record(*args: Any) -> None:
            statement: str = args[2]
            if statement.lstrip().upper().startswith(("CREATE", "ALTER", "DROP", "INSERT")):
                ddl.append(statement)

        event.listen(second.engine, "before_cursor_execute", record)
        upgrade(second.engine)
        assert ddl == []
        assert current_revision(second.engine) == head()
        assert second.dead_letters.count() == 1


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    from alembic import command

    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert differences(engine) == []


def test_concurrent_opens_of_a_new_database_all_succeed(store_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_once() -> None:
        try:
            start.wait()
            Store.open_url(store_url).close()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=open_once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open_url(store_url) as store:
        assert current_revision(store.engine) == head()


@pytest.mark.postgres
def test_a_brand_new_postgresql_database_migrates(postgres_server: PostgresServer) -> None:
    """The other tests use a schema each; this one uses a whole database's public schema."""
    url = postgres_server.create_database()
    with Store.open_url(url.replace("postgresql+psycopg://", "postgres://")) as store:
        assert differences(store.engine) == []
        assert store.engine.dialect.driver == "psycopg"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_schema()").scalar() == "public"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "nested" / "fanzha-data")
    with Store.open(settings) as store:
        assert (tmp_path / "nested" / "fanzha-data" / "fanzha.db").exists()
        with store.engine.connect() as conn:
            pragma = conn.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert pragma("PRAGMA busy_timeout").scalar() == 30_000


def test_sqlite_transactions_roll_back_ddl(tmp_path: Path) -> None:
    """SQLAlchemy, not sqlite3, opens transactions: DDL is transactional like on PostgreSQL."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            raise RuntimeError("roll back")
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_in_memory_sqlite_works() -> None:
    with Store.open_url("sqlite://") as store:
        assert store.dead_letters.list() == []


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgres://u:p@db:5432/fanzha", "postgresql+psycopg"),
        ("postgresql://u@db/fanzha", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@db/fanzha", "postgresql+psycopg"),
        ("sqlite:///data/fanzha.db", "sqlite"),
    ],
)
def test_urls_are_normalised(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@db/fanzha", "sqlite+aiosqlite:///x.db"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseError):
        normalise_url(url)
