"""A hand-made simulation folder and warning timeline for the ``fanzha evaluate`` tests.

Import as ``from evaluation_world import ...`` (``tests/`` is on ``sys.path``, see factories).

The story, times relative to ``START`` (2024-05-01 00:00 +08:00), 20,000 residents, 2 days:

- V1 (A, 冒充电商物流客服): contacted +1h, pays 60 yuan at +1h30 and 40 yuan at +2h30.
  Warned at level 3 ten minutes before the first payment: warned before loss, lead 10 min.
- V2 (B, 刷单返利): contacted +2h, pays 50 yuan at +3h and 20 yuan at +4h. Warned at level 2
  five minutes after the first payment: warned, not before; 20 yuan lost after the warning.
  A shadow rule warned B at level 3 at +2h30 (before the loss, lead 30 min, shadow only).
- V3 (C, 刷单返利): contacted +1d1h, pays 70 yuan at +1d3h. Its only warning (level 4) came at
  +30min, more than a day before the first contact: an old warning, not counted for V3, but C
  was targeted so the subject counts as a true warning for precision.
- V4 (D, 虚假网络贷款): contacted +4h, pays 30 yuan at +5h. Warned at +4h30 (level 3 from +4h40,
  level 4); a second warning of D at +21h (level 1, after a cool-down). Lead 30 min.
- V5 (D again, 刷单返利): contacted +20h, did not engage (no loss): not a victim.
- V6 (E, 冒充公检法): contacted +6h, not engaged. Warned at level 3: targeted, not a victim.
- F, a resident nobody targeted: a false live warning at level 3 and a false shadow one (2).
- ``phone:+8613900000009``: no ID number, a phone nobody targeted: a false warning at level 1.
- ``phone:<B's phone>``: no ID number, B's phone: a true warning at level 1.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from fanzha.detect.schema import WARNINGS_SCHEMA
from fanzha.sim.output import Writer
from fanzha.sim.truth import SCHEMAS

CST = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2024, 5, 1, tzinfo=CST)
END = START + dt.timedelta(days=2)
RESIDENTS = 20_000
DAYS = 2

A, B, C, D, E, F = (f"50010119800101{i:03d}X" for i in range(1, 7))
PHONE = {p: f"+861380000000{i}" for i, p in enumerate((A, B, C, D, E, F), start=1)}
STRANGER_PHONE = "+8613900000009"


def at(hours: float = 0, minutes: float = 0, days: float = 0) -> dt.datetime:
    """A moment after ``START``."""
    return START + dt.timedelta(days=days, hours=hours, minutes=minutes)


def victim(
    victim_id: str,
    id_number: str,
    fraud_type: str,
    contact: dt.datetime,
    loss_fen: int = 0,
    payments: int = 0,
) -> dict[str, Any]:
    """One row of truth ``victims``."""
    return {
        "victim_id": victim_id,
        "id_number": id_number,
        "name": "测试",
        "phone": PHONE.get(id_number),
        "age": 40,
        "occupation": "office_worker",
        "community": "50010101001",
        "fraud_type": fraud_type,
        "gang_id": "G01",
        "first_contact_ts": contact,
        "hooked": loss_fen > 0,
        "outcome": "scam_ended" if loss_fen else "not_engaged",
        "payments": payments,
        "loss_fen": loss_fen,
        "rebates_fen": 0,
        "reported": False,
        "report_event_id": None,
        "report_ts": None,
    }


def payment(victim_id: str, no: int, ts: dt.datetime, amount_fen: int) -> dict[str, Any]:
    """One row of truth ``payments``."""
    return {
        "victim_id": victim_id,
        "payment_no": no,
        "event_id": f"T-{victim_id}-{no}",
        "ts": ts,
        "payer_account": "6222000000000000000",
        "payee_account": "6222999999999999999",
        "amount_fen": amount_fen,
    }


VICTIMS = [
    victim("V1", A, "fake_customer_service", at(1), 10_000, 2),
    victim("V2", B, "order_brushing", at(2), 7_000, 2),
    victim("V3", C, "order_brushing", at(1, days=1), 7_000, 1),
    victim("V4", D, "fake_loan", at(4), 3_000, 1),
    victim("V5", D, "order_brushing", at(20)),
    victim("V6", E, "impersonating_authorities", at(6)),
]
PAYMENTS = [
    payment("V1", 1, at(1, 30), 6_000),
    payment("V1", 2, at(2, 30), 4_000),
    payment("V2", 1, at(3), 5_000),
    payment("V2", 2, at(4), 2_000),
    payment("V3", 1, at(3, days=1), 7_000),
    payment("V4", 1, at(5), 3_000),
]


def write_world(
    out: Path,
    victims: list[dict[str, Any]] | None = None,
    payments: list[dict[str, Any]] | None = None,
    *,
    fmt: str = "parquet",
    residents: int = RESIDENTS,
    days: int = DAYS,
) -> Path:
    """A simulation folder with the given truth (default: the story above); returns ``out``."""
    writer = Writer(out, fmt)
    rows = {"victims": VICTIMS if victims is None else victims}
    rows["payments"] = PAYMENTS if payments is None else payments
    for name, schema in SCHEMAS.items():
        table = pa.Table.from_pylist(rows.get(name, []), schema=schema)
        writer.write_table(out / "truth" / name, table)
    manifest = {
        "format": fmt,
        "start": START.isoformat(),
        "end": (START + dt.timedelta(days=days)).isoformat(),
        "parameters": {"residents": residents, "days": days},
    }
    (out / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    return out


def warning(
    subject: str,
    level: int,
    first_at: dt.datetime,
    *,
    level3_at: dt.datetime | None = None,
    level4_at: dt.datetime | None = None,
    shadow: bool = False,
    phone: str | None = None,
    fraud_type: str | None = None,
) -> dict[str, Any]:
    """One warning row; ``subject`` is an ID number or ``phone:…``."""
    id_number = None if subject.startswith("phone:") else subject
    return {
        "warning_id": "",
        "subject": subject,
        "id_number": id_number,
        "phone": phone if phone is not None else PHONE.get(subject),
        "level": level,
        "first_at": first_at,
        "level3_at": level3_at if level3_at is not None or level < 3 else first_at,
        "level4_at": level4_at if level4_at is not None or level < 4 else first_at,
        "shadow": shadow,
        "fraud_type": fraud_type,
        "score": float(level),
    }


def warnings_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Warning rows as a table of ``WARNINGS_SCHEMA`` (ids W1, W2, … in order)."""
    numbered = [{**row, "warning_id": f"W{i}"} for i, row in enumerate(rows, start=1)]
    return pa.Table.from_pylist(numbered, schema=WARNINGS_SCHEMA)


LIVE = [
    warning(A, 3, at(1, 20)),  # V1: 10 min before its first payment
    warning(B, 2, at(3, 5)),  # V2: after its first payment
    warning(C, 4, at(0, 30)),  # V3: more than a day before its first contact
    warning(D, 4, at(4, 30), level3_at=at(4, 40), level4_at=at(4, 40)),  # V4
    warning(D, 1, at(21)),  # D again after a cool-down
    warning(E, 3, at(6, 5)),  # targeted, not a victim
    warning(F, 3, at(10)),  # nobody targeted F
    warning(f"phone:{STRANGER_PHONE}", 1, at(11)),  # unknown person, untargeted phone
    warning(f"phone:{PHONE[B]}", 1, at(12)),  # unknown person, B's phone
]
SHADOW = [
    warning(F, 2, at(9), shadow=True),
    warning(B, 3, at(2, 30), shadow=True),
]


def story_warnings() -> pa.Table:
    """The live and shadow warnings of the story."""
    return warnings_table(LIVE + SHADOW)
