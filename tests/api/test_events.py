"""Server-sent events per unit over a real HTTP server (uvicorn on loopback, httpx):
events of the unit and the units below it, nothing else, and 404 outside the jurisdiction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from webworld import JIANGBEI, NANPING, PASSWORD, SHENGLI, issue, populate, serve

from fanzha.api.app import create_app
from fanzha.service import App

from .helpers import settings_for

NANPING_ID, SHENGLI_ID = "500101198610030001", "500103199001010003"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, App]]:
    api = create_app(settings_for(tmp_path_factory.mktemp("sse")))
    with serve(api) as url:
        fz: App = api.state.fz
        populate(fz)
        yield url, fz


@contextmanager
def session(url: str, username: str) -> Iterator[httpx.Client]:
    """A logged-in HTTP client."""
    with httpx.Client(base_url=url, timeout=10) as client:
        yield _logged_in(client, username)


def _logged_in(client: httpx.Client, username: str) -> httpx.Client:
    csrf = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    done = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"x-csrf-token": csrf},
    )
    assert done.status_code == 200, done.text
    return client


def events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) from an SSE line stream."""
    name = "message"
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))
            name = "message"


def test_a_district_hears_its_stations_and_nobody_else(server: tuple[str, App]) -> None:
    url, fz = server
    with (
        session(url, "jiangbei") as client,
        client.stream("GET", f"/api/v1/units/{JIANGBEI}/events") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 3000" and next(lines) == ": connected"
        issue(fz, "S1", 3, SHENGLI_ID)  # another district: not heard
        mine = issue(fz, "S2", 3, NANPING_ID)
        issue(fz, "S2", 4, NANPING_ID)  # the warning upgrades
        got = events(lines)
        name, data = next(got)
        assert name == "issued" and data["instruction_id"] == mine.instruction_id
        assert data["unit"] == NANPING and data["level"] == 3
        name, data = next(got)
        assert name == "upgraded" and data["level"] == 4


def test_a_station_follows_its_own_work(server: tuple[str, App]) -> None:
    url, fz = server
    mine = issue(fz, "S3", 4, NANPING_ID)
    with (
        session(url, "nanping") as client,
        client.stream("GET", f"/api/v1/units/{NANPING}/events") as stream,
    ):
        lines = stream.iter_lines()
        next(lines), next(lines)
        signed = client.post(
            f"/api/v1/instructions/{mine.instruction_id}/sign",
            headers={"x-csrf-token": client.get("/api/v1/auth/me").json()["csrf_token"]},
        )
        assert signed.status_code == 200
        name, data = next(events(lines))
        assert (name, data["state"], data["action"]) == ("updated", "signed", "sign")


def test_another_units_stream_is_404(server: tuple[str, App]) -> None:
    url, _ = server
    with session(url, "nanping") as client:
        assert client.get(f"/api/v1/units/{SHENGLI}/events").status_code == 404
        assert client.get(f"/api/v1/units/{JIANGBEI}/events").status_code == 404
    anonymous = httpx.get(f"{url}/api/v1/units/{NANPING}/events", timeout=10)
    assert anonymous.status_code == 401


def test_a_bounded_stream_ends(server: tuple[str, App]) -> None:
    url, fz = server
    with session(url, "admin1") as client:
        done = client.get("/api/v1/units/500100/events?max_seconds=0.2")
        assert done.status_code == 200 and ": connected" in done.text
    assert fz.bus.subscribers == 0
