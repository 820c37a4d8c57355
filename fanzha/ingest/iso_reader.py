"""Reader for ISO 20022 bank messages (pacs.008, camt.053, camt.054) → transfer rows.

A message is one all-or-nothing group: if the parser or the normaliser rejects any of its
transactions, none of them lands and the whole message is dead-lettered once.

camt entries that are not account-to-account transfers (bank fees, interest, card payments,
cash; pending and information-only entries) are skipped by the parser
(:func:`~fanzha.ingest.iso20022.parse_iso20022_detailed`), and the transfers of the message
still land. A message with only such entries (a statement of fees) yields nothing and is not
rejected; only a message with neither transfers nor skipped entries is. Skipped entries are not
counted in the ingestion report yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from fanzha.ingest.iso20022 import Iso20022Error, parse_iso20022_detailed
from fanzha.ingest.readers import FileRejected, RawBatch
from fanzha.settings import Settings

MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def read_iso20022(path: Path, source: str, settings: Settings) -> Iterator[RawBatch]:
    """One batch with every transfer of the message in ``path`` (none if it holds none)."""
    if path.stat().st_size > MAX_MESSAGE_BYTES:
        raise FileRejected(f"message is larger than {MAX_MESSAGE_BYTES} bytes")
    data = path.read_bytes()
    try:
        result = parse_iso20022_detailed(
            data, xsd_dir=settings.iso20022_xsd_dir, tz=settings.timezone
        )
    except Iso20022Error as exc:
        where = f" at {exc.element}" if exc.element else ""
        line = f" (line {exc.line})" if exc.line else ""
        raise FileRejected(f"ISO 20022 message rejected{where}{line}: {exc.reason}") from None
    rows = [
        {
            "event_type": "transfer",  # so that no --type is needed for a bank message
            "event_id": t.event_id,
            "source": f"iso20022:{t.message_type}",
            "ts": t.ts.isoformat(),
            "payer_account": t.payer_account,
            "payee_account": t.payee_account,
            "amount": str(t.amount),
            "currency": t.currency,
            "payer_name": t.payer_name,
            "payee_name": t.payee_name,
            "payer_bank": t.payer_agent,
            "payee_bank": t.payee_agent,
            "uetr": t.uetr,
            "end_to_end_id": t.end_to_end_id,
            "remittance": t.remittance,
        }
        for t in result.transfers
    ]
    if not rows:
        if result.skipped:  # only fees, interest, card payments, pending entries ...
            return
        raise FileRejected("ISO 20022 message has no transactions")
    table = pa.Table.from_pylist(rows, schema=pa.schema([(k, pa.string()) for k in rows[0]]))
    n = table.num_rows

    def raw_of(row: int) -> bytes:
        return data

    yield RawBatch(
        table,
        source,
        "transaction",
        np.arange(1, n + 1, dtype=np.int64),
        raw_of,
        groups=np.zeros(n, dtype=np.int64),
    )
