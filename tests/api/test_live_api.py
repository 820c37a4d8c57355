"""The live loop behind the real API: events posted by providers become a stored warning and an
instruction for the right station, pushed on the bus, with nobody running ``fanzha detect``;
a restart of the server keeps the detection state."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from liveworld import ANN_ID, first_half, ndjson, persons, second_half
from webworld import NANPING, populate

from fanzha.api.app import create_app
from fanzha.dispatch.events import InstructionEvent
from fanzha.service import App
from fanzha.settings import Settings

from .helpers import BEARER, login, settings_for

NDJSON = {"content-type": "application/x-ndjson", **BEARER}
#: the events happened this morning (the server's clock is the wall clock)
START = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)
#: how long a test waits for the loop's thread (a bound on a hang, not a speed check)
PATIENCE_S = 60.0


def live_settings(tmp_path: Path) -> Settings:
    # An hour between ticks: here the thread acts only when a commit wakes it.
    return settings_for(tmp_path, live=True, live_tick_s=3600.0)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(live_settings(tmp_path))) as c:
        populate(fz_of(c))
        yield c


def fz_of(client: TestClient) -> App:
    fz: App = client.app.state.fz  # type: ignore[attr-defined]
    return fz


def post_all(client: TestClient, rows: Mapping[str, list[dict[str, Any]]]) -> None:
    for event_type, items in rows.items():
        response = client.post(
            f"/api/v1/ingest/{event_type}", content=ndjson(items), headers=NDJSON
        )
        assert response.status_code == 200 and response.json()["accepted"] == len(items)


def wait_for(found: Callable[[], Any]) -> Any:
    """What ``found`` returns once it is truthy (the loop's thread works in the background)."""
    deadline = time.monotonic() + PATIENCE_S
    while not (value := found()):
        assert time.monotonic() < deadline, "the live loop did not act"
        time.sleep(0.05)
    return value


def critical_instruction(fz: App) -> Any:
    warning = next((w for w in fz.warnings.table().to_pylist() if w["subject"] == ANN_ID), None)
    if warning is None or warning["level"] < 4:
        return None
    ins = fz.instructions.by_warning(warning["warning_id"])
    return ins if ins is not None and ins.level == 4 else None


def test_posted_events_reach_the_station_as_a_critical_instruction(client: TestClient) -> None:
    fz = fz_of(client)
    assert fz.live.running
    pushed: list[InstructionEvent] = []
    fz.bus.listen(pushed.append)
    post_all(client, {"person": persons()})
    post_all(client, first_half(START) | second_half(START))
    ins = wait_for(lambda: critical_instruction(fz))
    assert ins.unit == NANPING and ins.phone == "+8613812340001"
    # SSE and webhooks (published just after the instruction is stored: wait for it too)
    wait_for(lambda: any(e.instruction_id == ins.instruction_id for e in pushed))
    csrf = login(client, "nanping")
    page = client.get("/api/v1/instructions", headers={"x-csrf-token": csrf}).json()
    assert [(i["instruction_id"], i["level"]) for i in page["items"]] == [(ins.instruction_id, 4)]


def test_a_restarted_server_keeps_what_it_had_seen(tmp_path: Path) -> None:
    with TestClient(create_app(live_settings(tmp_path))) as c:
        fz = fz_of(c)
        populate(fz)
        post_all(c, {"person": persons()})
        post_all(c, first_half(START))
        wait_for(lambda: fz.warnings.table().num_rows)
        fz.live.tick()  # everything offered is read once this returns
        [before] = fz.warnings.table().to_pylist()
        assert before["level"] == 3
    assert (tmp_path / "data" / "live" / "state.json").is_file()  # the shutdown snapshot
    with TestClient(create_app(live_settings(tmp_path))) as c:
        fz = fz_of(c)
        post_all(c, second_half(START))
        ins = wait_for(lambda: critical_instruction(fz))
        assert ins.warning_id == before["warning_id"]  # upgraded, not a second warning


def test_turned_off_the_server_only_ingests(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path))) as c:  # live=False
        fz = fz_of(c)
        populate(fz)
        post_all(c, {"person": persons()})
        post_all(c, first_half(START) | second_half(START))
        assert not fz.live.running and fz.live.detection.engine is None
        assert fz.warnings.table().num_rows == 0 and fz.instructions.find() == []
