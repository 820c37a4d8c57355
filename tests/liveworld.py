"""A resident of the web test city and a police-impersonation scam against her, as the NDJSON
providers post (telecom, internet, bank), for the live-loop tests.

Import as ``from liveworld import ...`` (``tests/`` is on ``sys.path``, see factories.py).

The story, in minutes from ``start``: a scam SMS with a link (0), a 40-minute call from a
Beijing fixed line (30; its live probe at 45 makes the warning 高危), a visit to the link
(75) — then, the *second half*, a screen-sharing install (80: 特危, since it follows the
fraud contact) and three escalating transfers to a mule account (90, 100, 110).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from webworld import NANPING_GRID

from fanzha.model.values import id_check_char

ANN_ID = "50010119860310002" + id_check_char("50010119860310002")
ANN_PHONE = "+8613812340001"
ANN_ACCOUNT = "6222020200001234567"
MULE = "6217000099990001111"
MULE2 = "6217000099990002222"
SCAMMER_SMS = "+8613912345678"
SCAMMER_CALL = "+861087654321"
URL = "http://gov-check.cc/a"

#: the rules that only the first half of the story can give
FIRST_HALF_RULES = {"call_long_fixed_line", "visit_after_contact"}


def persons() -> list[dict[str, Any]]:
    """The registry row of the resident (home: the Nanping community grid)."""
    return [
        {
            "id_number": ANN_ID,
            "name": "安娜",
            "phones": [ANN_PHONE],
            "accounts": [ANN_ACCOUNT],
            "community": NANPING_GRID,
        }
    ]


def first_half(start: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Contact with the scammers: rows per event type."""
    return {
        "sms": [
            _row(start, 0, sender=SCAMMER_SMS, recipient=ANN_PHONE, text=f"您的账户涉嫌洗钱 {URL}")
        ],
        "call": [_row(start, 30, caller=SCAMMER_CALL, callee=ANN_PHONE, duration_s=40 * 60)],
        "web_visit": [_row(start, 75, subscriber=ANN_PHONE, url=URL)],
    }


def second_half(start: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Screen sharing, then the money: rows per event type."""
    return {
        "app_install": [_row(start, 80, subscriber=ANN_PHONE, app_id="com.oray.sunlogin")],
        "transfer": [
            _row(
                start,
                90 + 10 * i,
                payer_account=ANN_ACCOUNT,
                payee_account=MULE,
                amount_fen=yuan * 100,
            )
            for i, yuan in enumerate((2000, 5000, 20000))
        ],
    }


def onward(start: dt.datetime, minutes: float) -> dict[str, list[dict[str, Any]]]:
    """The mule passes 15,000 yuan on to a second account (laundering, layer 2)."""
    return {
        "transfer": [
            _row(start, minutes, payer_account=MULE, payee_account=MULE2, amount_fen=1_500_000)
        ]
    }


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    """NDJSON bytes of rows."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _row(start: dt.datetime, minutes: float, **values: Any) -> dict[str, Any]:
    # No event id: ingestion derives one from the identity fields, as for most providers.
    return {"source": "test", "ts": (start + dt.timedelta(minutes=minutes)).isoformat(), **values}
