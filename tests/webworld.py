"""A small running city for API, page and browser tests: org units, users, warnings issued
through the real Dispatcher, and a real HTTP server on loopback when a test needs one.

Import as ``from webworld import ...`` (``tests/`` is on ``sys.path``, see factories.py).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import uvicorn
from fastapi import FastAPI

from fanzha.auth.principal import Grant
from fanzha.dispatch.instruction import Instruction
from fanzha.dispatching import Registry
from fanzha.service import App

CITY, JIANGBEI, CHENGGUAN = "500100", "500101", "500103"
NANPING, XINHUA, SHENGLI = "50010101", "50010102", "50010301"
NANPING_GRID, XINHUA_GRID, SHENGLI_GRID = "50010101001", "50010102001", "50010301001"
PASSWORD = "Correct-Horse-9"

ORG_ROWS = [
    (CITY, "江州市公安局反诈中心", "city", None, "Jiangzhou anti-fraud centre"),
    (JIANGBEI, "江北区反诈中心", "district", CITY, "Jiangbei district"),
    (CHENGGUAN, "城关区反诈中心", "district", CITY, "Chengguan district"),
    (NANPING, "南坪派出所", "station", JIANGBEI, "Nanping station"),
    (XINHUA, "新华派出所", "station", JIANGBEI, "Xinhua station"),
    (SHENGLI, "胜利派出所", "station", CHENGGUAN, "Shengli station"),
    (NANPING_GRID, "南坪社区", "community", NANPING, None),
    (XINHUA_GRID, "新华社区", "community", XINHUA, None),
    (SHENGLI_GRID, "胜利村", "community", SHENGLI, None),
]
ORG_CSV = "\n".join(
    ["code,name,level,parent_code,name_en"]
    + [f"{c},{n},{lv},{p or ''},{en or ''}" for c, n, lv, p, en in ORG_ROWS]
).encode()

#: username → grant: one user per role and a second station's officer.
USERS = {
    "admin1": f"city_admin@{CITY}",
    "analyst": f"city_analyst@{CITY}",
    "jiangbei": f"district_dispatcher@{JIANGBEI}",
    "nanping": f"station_officer@{NANPING}",
    "shengli": f"station_officer@{SHENGLI}",
}

#: Which community each test person lives in (by identity number).
HOMES = {
    "500101198610030001": NANPING_GRID,
    "500101198610030002": XINHUA_GRID,
    "500103199001010003": SHENGLI_GRID,
}


def populate(fz: App) -> None:
    """Org units (through the registry, as ingestion stores them) and the users."""
    from fanzha.store import OrgUnitRow

    rows = [
        OrgUnitRow(code=c, name=n, level=lv, parent_code=p, name_en=en)
        for c, n, lv, p, en in ORG_ROWS
    ]
    fz.store.reference.upsert_org_units(rows)
    from fanzha.security import registry_tree

    fz.security.tree = registry_tree(fz.store.sessions)
    for name, grant in USERS.items():
        if fz.security.users.get(name) is None:
            fz.security.add_user(name, name, PASSWORD, [Grant.parse(grant)], "user:test")


def issue(
    fz: App,
    warning_id: str,
    level: int,
    id_number: str = "500101198610030001",
    *,
    phone: str = "13812341234",
    fraud_type: str | None = "impersonating_authorities",
    at: dt.datetime | None = None,
) -> Instruction:
    """Store a warning with its explanation and evidence, and dispatch it (real Dispatcher)."""
    at = at or fz.clock.now()
    signals = [
        {
            "at": int(at.timestamp()) - 300,
            "rule": "call_flagged_number",
            "version": 1,
            "weight": 40.0,
            "event_id": f"E-{warning_id}-1",
            "value": "+8617000000001",
            "indicator": "fraud · 12381 feed",
            "fraud_type": fraud_type or "",
        },
        {
            "at": int(at.timestamp()) - 60,
            "rule": "install_screen_share_after_contact",
            "version": 1,
            "weight": 30.0,
            "event_id": f"E-{warning_id}-2",
            "value": "ZoomShare",
            "indicator": "",
            "fraud_type": "",
        },
    ]
    row: dict[str, Any] = {
        "warning_id": warning_id,
        "subject": id_number,
        "id_number": id_number,
        "phone": phone,
        "level": level,
        "first_at": at,
        "updated_at": at,
        "level3_at": at if level >= 3 else None,
        "level4_at": at if level >= 4 else None,
        "shadow": False,
        "fraud_type": fraud_type,
        "score": 20.0 * level,
        "explanation_zh": "与涉诈号码通话后安装屏幕共享软件",
        "explanation_en": "installed a screen-sharing app after a call with a fraud number",
        "signals": signals,
    }
    fz.warnings.upsert_many([row])
    table = pa.Table.from_pylist([{k: v for k, v in row.items() if k not in ("signals",)}])
    fz.dispatcher.dispatch_warnings(table, Registry(dict(HOMES)), evidence={warning_id: signals})
    found = fz.instructions.by_warning(warning_id)
    assert found is not None
    return found


# ---------------------------------------------------------------------- a real server


def free_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(api: FastAPI) -> Iterator[str]:
    """Run ``api`` with uvicorn on a free loopback port in a thread; yields the base URL.

    In this process, so that a test reaches ``api.state.fz`` (its Dispatcher, its bus)."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        api, log_level="warning", timeout_graceful_shutdown=1, lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
