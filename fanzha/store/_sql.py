"""Small helpers shared by the repositories: dialect inserts, chunking and safe text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

T = TypeVar("T")

# Rows per INSERT statement; far below PostgreSQL's 65,535 bind parameters and SQLite's 32,766.
CHUNK_ROWS = 500


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ON CONFLICT for the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database {name!r}")


def write_lock(session: Session) -> None:
    """Take SQLite's write lock as the session's transaction starts (call it first): a
    transaction that reads and then writes could otherwise not start writing once another
    connection has committed meanwhile ("database is locked" at once, whatever the busy
    timeout). PostgreSQL needs nothing."""
    from fanzha.store.db import SQLITE_BEGIN_OPTION

    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={SQLITE_BEGIN_OPTION: "BEGIN IMMEDIATE"})


def chunks(items: Sequence[T], size: int = CHUNK_ROWS) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def chunks_by_weight(
    items: Iterable[T], weight: Iterable[int], *, max_rows: int, max_weight: int
) -> Iterator[list[T]]:
    """Group items so that no group has more than ``max_rows`` items or ``max_weight`` weight.

    An item heavier than ``max_weight`` forms a group of its own.
    """
    group: list[T] = []
    total = 0
    for item, w in zip(items, weight, strict=True):
        if group and (len(group) >= max_rows or total + w > max_weight):
            yield group
            group, total = [], 0
        group.append(item)
        total += w
    if group:
        yield group


def safe_text(value: str, limit: int | None = None) -> str:
    """Text any database accepts: no NUL, no lone surrogates, at most ``limit`` characters.

    Offending characters are written as backslash escapes, so nothing is silently dropped
    except what lies beyond ``limit`` (marked with an ellipsis).
    """
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value
