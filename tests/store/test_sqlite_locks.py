"""SQLite's write lock: a transaction that reads and then writes cannot start writing once
another connection has committed meanwhile; ``write_lock`` takes the lock as it starts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from fanzha.store._sql import write_lock
from fanzha.store.db import make_engine, session_factory


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "locks.db"
    with make_engine(f"sqlite:///{path.as_posix()}").begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return path


def other_writer(path: Path, value: int) -> None:
    """Another process's connection commits one row (it gives up at once if locked)."""
    conn = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        conn.execute("INSERT INTO t VALUES (?)", (value,))
    finally:
        conn.close()


def test_reading_then_writing_fails_after_another_commit(db: Path) -> None:
    sessions = session_factory(make_engine(f"sqlite:///{db.as_posix()}"))
    with pytest.raises(OperationalError, match="locked"), sessions.begin() as session:
        session.execute(text("SELECT count(*) FROM t"))
        other_writer(db, 1)
        session.execute(text("INSERT INTO t VALUES (2)"))


def test_write_lock_keeps_the_transaction_whole(db: Path) -> None:
    sessions = session_factory(make_engine(f"sqlite:///{db.as_posix()}"))
    with sessions.begin() as session:
        write_lock(session)
        session.execute(text("SELECT count(*) FROM t"))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other_writer(db, 1)  # waits for us (here: gives up)
        session.execute(text("INSERT INTO t VALUES (2)"))
    other_writer(db, 3)  # after the commit
    with sessions() as session:
        assert session.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [2, 3]
