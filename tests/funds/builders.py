"""Tiny builders for the funds tests: transfer tables written as timelines."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

S = 1_000_000  # microseconds per second

#: (payer, payee, second, fen) or (payer, payee, second, fen, channel)
Row = tuple[str, str, int, int] | tuple[str, str, int, int, str]


def table(rows: Sequence[Row]) -> pa.Table:
    """A transfer table; times are whole seconds since the epoch, channel ``mobile``."""
    return pa.table(
        {
            "event_id": pa.array([f"T{i:05d}" for i in range(len(rows))], pa.string()),
            "payer_account": pa.array([r[0] for r in rows], pa.string()),
            "payee_account": pa.array([r[1] for r in rows], pa.string()),
            "ts": pa.array([r[2] * S for r in rows], pa.timestamp("us", tz="UTC")),
            "amount_fen": pa.array([r[3] for r in rows], pa.int64()),
            "channel": pa.array([r[4] if len(r) > 4 else "mobile" for r in rows], pa.string()),
        }
    )
