"""Page latency: the dashboard and the queue (and their data endpoints) with a city's data
loaded, measured with a real HTTP client against uvicorn in its own process.

The store is synthetic but of the ``demo`` size: a city of 10 districts and 60 stations,
50,000 residents, ~8,700 warnings dispatched by the real Dispatcher into instructions (all
issued today, the dashboard's worst case), and ~700 reports taken at the desk with their
stop-payment orders, most answered by the bank. Each page is asked for ``N`` times in a row
by one client (after a warm-up); p50 / p95 / max are reported. Target: p95 ≤ 200 ms.

``python -m bench --only web`` (results with the others) or ``python -m bench.web [N]``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

TARGET_P95_MS = 200.0
CITY = "500100"
PASSWORD = "Bench-Horse-9"
FRAUD_TYPES = ("fake_investment", "order_brushing", "fake_customer_service", "romance", None)
#: user → grant: the city admin sees everything (the heaviest pages), a station its own
USERS = {"admin": f"city_admin@{CITY}", "station": f"station_officer@{CITY[:4]}0101"}
#: (user, path) measured
PAGES = [
    ("admin", "/dashboard"),
    ("admin", "/dashboard/live"),
    ("admin", "/dashboard/charts/history"),
    ("admin", "/dashboard/charts/fraud"),
    ("admin", "/queue"),
    ("admin", "/queue/rows"),
    ("admin", "/queue/rows?level=4"),
    ("station", "/queue"),
    ("station", "/queue/rows"),
]
CHEAP_HASHES = {"FANZHA_ARGON2_TIME_COST": "1", "FANZHA_ARGON2_MEMORY_KIB": "8"}


@dataclass
class Sizes:
    """How much data the store holds."""

    warnings: int = 8_700
    residents: int = 50_000
    cases: int = 700
    districts: int = 10
    stations: int = 6  # per district

    @classmethod
    def scaled(cls, scale: float) -> Sizes:
        """The demo sizes times ``scale`` (units stay)."""
        base = cls()
        return cls(int(base.warnings * scale), int(base.residents * scale), int(base.cases * scale))


@dataclass
class WebBench:
    """The figures of one run."""

    sizes: Sizes
    requests: int
    build_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    pages: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def worst_p95(self) -> float:
        """The slowest page's p95 (ms)."""
        return max(p["p95_ms"] for p in self.pages.values())

    def as_dict(self) -> dict[str, Any]:
        """The JSON result."""
        return {
            "sizes": self.sizes.__dict__,
            "requests": self.requests,
            "build_s": round(self.build_s, 1),
            "counts": self.counts,
            "pages": self.pages,
            "target_p95_ms": TARGET_P95_MS,
            "met": self.worst_p95 <= TARGET_P95_MS,
        }


# ---------------------------------------------------------------------- the store


def _id_number(region: str, n: int) -> str:
    """A valid 18-digit identity number (GB 11643 check digit)."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=n % 20_000)
    body = f"{region}{born:%Y%m%d}{n % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _org(sizes: Sizes) -> list[tuple[str, str, str, str | None]]:
    rows: list[tuple[str, str, str, str | None]] = [(CITY, "江州市公安局反诈中心", "city", None)]
    for d in range(1, sizes.districts + 1):
        district = f"{CITY[:4]}{d:02d}"
        rows.append((district, f"第{d}区反诈中心", "district", CITY))
        for s in range(1, sizes.stations + 1):
            station = f"{district}{s:02d}"
            rows.append((station, f"第{d}区第{s}派出所", "station", district))
            rows.append((f"{station}001", f"第{d}区第{s}社区", "community", station))
    return rows


def build(data_dir: Path, sizes: Sizes) -> dict[str, int]:
    """Fill the store under ``data_dir``: units, users, residents, warnings dispatched into
    instructions, reports with their stop-payment orders."""
    from fanzha.auth.principal import Grant
    from fanzha.security import registry_tree
    from fanzha.service import App
    from fanzha.settings import Settings
    from fanzha.store import OrgUnitRow, PersonRow

    rng = random.Random(7)
    with App(Settings(data_dir=data_dir)) as fz:
        org = _org(sizes)
        fz.store.reference.upsert_org_units(
            [OrgUnitRow(code=c, name=n, level=lv, parent_code=p) for c, n, lv, p in org]
        )
        fz.security.tree = registry_tree(fz.store.sessions)
        for name, grant in USERS.items():
            fz.security.add_user(name, name, PASSWORD, [Grant.parse(grant)], "bench")
        communities = [c for c, _, lv, _ in org if lv == "community"]
        homes = {}
        persons = []
        for n in range(sizes.residents):
            community = communities[n % len(communities)]
            id_number = _id_number(community[:6], n)
            homes[id_number] = community
            persons.append(
                PersonRow(
                    id_number=id_number,
                    name=f"居民{n}",
                    birth_date=dt.date(
                        int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])
                    ),
                    phones=(f"138{n:08d}",),
                    accounts=(),
                    community=community,
                )
            )
        for start in range(0, len(persons), 5000):
            fz.store.reference.upsert_persons(persons[start : start + 5000])
        _warnings(fz, sizes, list(homes), homes, rng)
        _cases(fz, sizes, [c for c, _, lv, _ in org if lv == "station"], rng)
        return {
            "units": len(org),
            "residents": sizes.residents,
            "instructions": _count(fz),
            "cases": len(fz.funds.cases(limit=10**6)),
            "orders": len(fz.funds.orders()),
        }


def _count(fz: Any) -> int:
    from sqlalchemy import func, select

    from fanzha.store.tables import InstructionRecord

    with fz.store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InstructionRecord)) or 0)


def _warnings(
    fz: Any, sizes: Sizes, ids: list[str], homes: dict[str, str], rng: random.Random
) -> None:
    from fanzha.dispatching import Registry

    now = fz.clock.now()
    registry = Registry(homes)
    levels = [1] * 40 + [2] * 35 + [3] * 20 + [4] * 5
    for start in range(0, sizes.warnings, 500):
        rows, evidence = [], {}
        for n in range(start, min(start + 500, sizes.warnings)):
            level = rng.choice(levels)
            at = now - dt.timedelta(minutes=rng.randrange(0, 600))
            wid = f"W{n:06d}"
            signals = [
                {
                    "at": int(at.timestamp()) - 300,
                    "rule": "call_flagged_number",
                    "version": 1,
                    "weight": 40.0,
                    "event_id": f"E{n}",
                    "value": "+8617000000001",
                    "indicator": "fraud · feed",
                    "fraud_type": "",
                }
            ]
            evidence[wid] = signals
            rows.append(
                {
                    "warning_id": wid,
                    "subject": ids[n % len(ids)],
                    "id_number": ids[n % len(ids)],
                    "phone": f"139{n:08d}",
                    "level": level,
                    "first_at": at,
                    "updated_at": at,
                    "level3_at": at if level >= 3 else None,
                    "level4_at": at if level >= 4 else None,
                    "shadow": False,
                    "fraud_type": rng.choice(FRAUD_TYPES),
                    "score": 20.0 * level,
                    "explanation_zh": "与涉诈号码通话",
                    "explanation_en": "called a fraud number",
                    "signals": signals,
                }
            )
        fz.warnings.upsert_many(rows)
        table = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "signals"} for r in rows])
        fz.dispatcher.dispatch_warnings(table, registry, evidence=evidence)


def _cases(fz: Any, sizes: Sizes, stations: list[str], rng: random.Random) -> None:
    from fanzha.funds.orders import BankAnswer
    from fanzha.funds.report import parse_report

    now = fz.funds.clock.now()
    for n in range(sizes.cases):
        payments = [
            {
                "account": f"62220200{n:06d}{k:05d}",
                "amount_fen": rng.randrange(1_000, 5_000_000),
                "paid_at": now - dt.timedelta(minutes=rng.randrange(30, 300)),
            }
            for k in range(rng.randrange(1, 4))
        ]
        report = parse_report(
            {
                "report_id": f"B{n:05d}",
                "unit": stations[n % len(stations)],
                "received_at": now - dt.timedelta(minutes=rng.randrange(0, 30)),
                "taken_by": "user:station",
                "fraud_type": "fake_investment",
                "payments": payments,
            }
        )
        done = fz.funds.intake(report, "user:station")
        for i, order in enumerate(done.orders):
            if rng.random() < 0.7:
                held = rng.randrange(0, order.amount_fen + 1)
                answer = BankAnswer(answer_id=f"A{n}-{i}", held_fen=held, at=now)
                fz.funds.answer(order.order_id, answer, "bank")


# ---------------------------------------------------------------------- the server and the client


def served() -> Any:
    """The app for ``uvicorn --factory`` (settings from the environment)."""
    from fanzha.api.app import create_app
    from fanzha.settings import Settings

    return create_app(Settings())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, **CHEAP_HASHES, "FANZHA_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "uvicorn", "bench.web:served", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen([*command, "--no-access-log"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("uvicorn did not start")


def _log_in(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the login page"
    done = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert done.status_code == 303 and "login" not in done.headers["location"], done.text
    return client


def _measure(client: httpx.Client, path: str, n: int) -> dict[str, float]:
    for _ in range(5):  # warm-up: templates compiled, caches filled
        client.get(path)
    times = []
    size = 0
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        size = len(response.content)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max_ms": round(times[-1], 1),
        "bytes": size,
    }


def run_all(requests: int = 200, sizes: Sizes | None = None) -> WebBench:
    """Build the store, serve it, and measure every page."""
    result = WebBench(sizes or Sizes(), requests)
    with tempfile.TemporaryDirectory(prefix="fanzha-web-") as tmp:
        data_dir = Path(tmp) / "data"
        os.environ.update(CHEAP_HASHES)
        start = time.perf_counter()
        result.counts = build(data_dir, result.sizes)
        result.build_s = time.perf_counter() - start
        server, url = _start(data_dir)
        try:
            clients = {user: _log_in(url, user) for user in USERS}
            for user, path in PAGES:
                result.pages[f"{user} {path}"] = _measure(clients[user], path, requests)
        finally:
            server.terminate()
            server.wait(10)
    return result


def rows(bench: WebBench) -> list[tuple[str, str, float, float | None, str]]:
    """Rows for the results table: each page's p95 (ms), no peer."""
    return [(f"web: {page} p95", "ms", p["p95_ms"], None, "") for page, p in bench.pages.items()]


def _verdict(bench: WebBench) -> str:
    return "met" if bench.worst_p95 <= TARGET_P95_MS else "NOT met"


def markdown(bench: WebBench) -> str:
    """The details section."""
    s = bench.sizes
    lines = [
        "",
        "### Web pages",
        "",
        f"Store: {bench.counts.get('instructions', s.warnings):,} instructions from "
        f"{s.warnings:,} warnings, {s.residents:,} residents, {bench.counts.get('cases', 0):,} "
        f"cases with {bench.counts.get('orders', 0):,} orders, {bench.counts.get('units', 0)} "
        f"units (built in {bench.build_s:.0f} s). {bench.requests} sequential requests per page "
        "(uvicorn in its own process, one httpx client, after 5 warm-up requests). "
        f"Target p95 ≤ {TARGET_P95_MS:.0f} ms: {_verdict(bench)}.",
        "",
        "| user | page | p50 ms | p95 ms | max ms | bytes |",
        "|---|---|---|---|---|---|",
    ]
    for page, p in bench.pages.items():
        user, path = page.split(" ", 1)
        figures = f"{p['p50_ms']} | {p['p95_ms']} | {p['max_ms']} | {p['bytes']:,}"
        lines.append(f"| {user} | `{path}` | {figures} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    done = run_all(n, Sizes.scaled(scale))
    print(markdown(done))
    print(json.dumps(done.as_dict(), ensure_ascii=False))
