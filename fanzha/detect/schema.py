"""The warnings table the detection engine hands out (one row per warning), e.g. to
``fanzha evaluate``. Pure: pyarrow only.

A subject may have several warnings over time (for instance a new one after a cool-down).

``warning_id``  the warning's id
``subject``     the resident's ID number when known, else ``phone:+86…`` or ``account:…``
``id_number``   the resident's ID number (null when unknown)
``phone``       the phone number the warning is about (null when none)
``level``       highest level reached: 4 特危, 3 高危, 2 中危, 1 低危
``first_at``    when it was first issued, at any level
``level3_at``   the first moment it was at level ≥ 3 (null if never)
``level4_at``   the first moment it was at level 4 (null if never)
``shadow``      issued by a shadow rule: kept out of the live scorecard, scored separately
``fraud_type``  the detector's guess (a ``FraudType`` value), null when it has none
``score``       the detector's score
"""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")

WARNINGS_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("warning_id", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("id_number", pa.string()),
        pa.field("phone", pa.string()),
        pa.field("level", pa.int8(), nullable=False),
        pa.field("first_at", _TS, nullable=False),
        pa.field("level3_at", _TS),
        pa.field("level4_at", _TS),
        pa.field("shadow", pa.bool_(), nullable=False),
        pa.field("fraud_type", pa.string()),
        pa.field("score", pa.float64(), nullable=False),
    ]
)


def empty_warnings() -> pa.Table:
    """A warnings table with no rows."""
    return WARNINGS_SCHEMA.empty_table()
