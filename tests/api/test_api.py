"""The HTTP API: ``POST /api/v1/ingest/{type}`` and ``GET /api/v1/deadletters``, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import call_row, calls, count, csv_text, ndjson_bytes, rows, workbook
from fastapi.testclient import TestClient

from fanzha.api.app import create_app
from fanzha.lake.log import Lake
from fanzha.service import App
from fanzha.settings import Settings

from .helpers import BEARER, add_user, login, settings_for

NDJSON = {"content-type": "application/x-ndjson", **BEARER}
CSV = {"content-type": "text/csv; charset=utf-8", **BEARER}


def client_for(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:  # runs the lifespan: opens the store
        yield client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(settings_for(tmp_path))


def lake_of(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "data" / "lake")


def post(client: TestClient, path: str, body: bytes, headers: dict[str, str]) -> Any:
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_health(client: TestClient) -> None:
    assert client.get("/api/v1/health").json()["status"] == "ok"


def test_ingest_ndjson(client: TestClient, tmp_path: Path) -> None:
    body = ndjson_bytes([*calls(3), call_row(caller="nope")])
    report = post(client, "/api/v1/ingest/call", body, NDJSON)
    assert (report["accepted"], report["rejected"], report["duplicates"]) == (3, 1, 0)
    assert report["committed"] is True
    assert report["files"][0]["path"] == "api:call:upload"
    assert report["files"][0]["format"] == "ndjson"
    again = post(client, "/api/v1/ingest/call", body, NDJSON)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert count(lake_of(tmp_path), "call") == 3
    assert list((tmp_path / "data" / "tmp").iterdir()) == []  # uploads are not kept
    with App(Settings(data_dir=tmp_path / "data")) as fz:
        assert fz.store.runs.list(1)[0].files == ("api:call:upload",)


def test_ingest_csv_with_source_and_strict(client: TestClient, tmp_path: Path) -> None:
    unsourced = [{k: v for k, v in c.items() if k != "source"} for c in calls(2)]
    body = csv_text(unsourced).encode()
    report = post(client, "/api/v1/ingest/call?source=operator-b", body, CSV)
    assert report["accepted"] == 2 and report["files"][0]["format"] == "csv"
    sources = rows(lake_of(tmp_path), "SELECT source FROM call")
    assert {r["source"] for r in sources} == {"operator-b"}
    bad = csv_text([*calls(2, start=10), call_row(caller="x")]).encode()
    strict = post(client, "/api/v1/ingest/call?strict=true", bad, CSV)
    assert strict["committed"] is False and strict["accepted"] == 0
    assert count(lake_of(tmp_path), "call") == 2


def test_format_parameter_overrides_the_content_type(client: TestClient) -> None:
    body = csv_text(calls(1)).encode()
    octet = {"content-type": "application/octet-stream", **BEARER}
    report = post(client, "/api/v1/ingest/call?format=csv", body, octet)
    assert report["accepted"] == 1
    bad = client.post("/api/v1/ingest/call?format=xlsx", content=body, headers=octet)
    assert bad.status_code == 422 and "unknown format 'xlsx'" in bad.json()["detail"]


def test_ingest_a_workbook(client: TestClient, tmp_path: Path) -> None:
    """An Excel upload (a bank's reply to a statement request) lands like its CSV."""
    header = ["caller", "callee", "ts", "duration_s"]
    row = ["+8613800138000", "+8613900139000", "2026-03-01 10:00:00", 65]
    body = workbook(tmp_path / "calls.xlsx", {"calls": [header, row]}).read_bytes()
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    report = post(client, "/api/v1/ingest/call", body, {"content-type": xlsx, **BEARER})
    assert (report["accepted"], report["files"][0]["format"]) == (1, "sheet")
    octet = {"content-type": "application/octet-stream", **BEARER}
    again = post(client, "/api/v1/ingest/call?format=sheet", body, octet)
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_reference_data_through_the_api(client: TestClient) -> None:
    body = "code,name,level\n500000,重庆市反诈中心,city\n".encode()
    assert post(client, "/api/v1/ingest/org_unit", body, CSV)["accepted"] == 1


def test_unknown_type_is_404(client: TestClient) -> None:
    response = client.post("/api/v1/ingest/fax", content=b"{}", headers=NDJSON)
    assert response.status_code == 404
    assert "unknown type 'fax'" in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["image/png", "text/plain", ""])
def test_unsupported_content_type_is_415(client: TestClient, content_type: str) -> None:
    headers = {"content-type": content_type, **BEARER} if content_type else BEARER
    response = client.post("/api/v1/ingest/call", content=b"x", headers=headers)
    assert response.status_code == 415
    assert "unsupported Content-Type" in response.json()["detail"]


def test_ingest_needs_a_data_provider_or_a_permitted_login(tmp_path: Path) -> None:
    body = ndjson_bytes(calls(1))
    plain = {"content-type": "application/x-ndjson"}
    for client in client_for(settings_for(tmp_path)):
        assert client.post("/api/v1/ingest/call", content=body, headers=plain).status_code == 401
        wrong = {**plain, "authorization": "Bearer nope"}
        assert client.post("/api/v1/ingest/call", content=body, headers=wrong).status_code == 401
        assert client.get("/api/v1/deadletters").status_code == 401
        assert post(client, "/api/v1/ingest/call", body, NDJSON)["accepted"] == 1
        # the bootstrap token is a data provider: ingest only
        assert client.get("/api/v1/deadletters", headers=BEARER).status_code == 403
        assert client.get("/api/v1/health").status_code == 200  # liveness stays open


def test_without_the_bootstrap_token_ingest_stays_closed(tmp_path: Path) -> None:
    for client in client_for(settings_for(tmp_path, ingest_token=None)):
        response = client.post("/api/v1/ingest/call", content=b"", headers=NDJSON)
        assert response.status_code == 401


def test_body_over_the_upload_limit_is_413(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_upload_bytes=1024)
    small = ndjson_bytes(calls(2))
    big = ndjson_bytes(calls(40))
    assert len(small) < 1024 < len(big)
    for client in client_for(settings):
        response = client.post("/api/v1/ingest/call", content=big, headers=NDJSON)
        assert response.status_code == 413
        assert "larger than 1024 bytes" in response.json()["detail"]
        assert post(client, "/api/v1/ingest/call", small, NDJSON)["accepted"] == 2
    assert count(lake_of(tmp_path), "call") == 2
    assert list((tmp_path / "data" / "tmp").iterdir()) == []


def test_deadletters_lists_rejected_records(client: TestClient) -> None:
    body = ndjson_bytes([call_row(), call_row(caller="13800138001", ts="yesterday")])
    post(client, "/api/v1/ingest/call?source=op", body, NDJSON)
    add_user(client, "analyst", ["city_analyst@500100"])
    login(client, "analyst")
    letters = client.get("/api/v1/deadletters").json()
    assert len(letters) == 1
    [letter] = letters
    assert letter["source"] == "api:call:op"
    assert (letter["location"], letter["field"], letter["event_type"]) == ("line 2", "ts", "call")
    assert "timestamp 'yesterday'" in letter["reason"]
    assert letter["status"] == "open"
    assert client.get("/api/v1/deadletters?status=retried").json() == []
    assert len(client.get("/api/v1/deadletters?limit=1").json()) == 1


def test_garbage_body_is_a_dead_letter_not_an_error(client: TestClient) -> None:
    response = client.post(
        "/api/v1/ingest/call", content=b"\x89PNG\r\n\x1a\n" + bytes(64), headers=NDJSON
    )
    assert response.status_code == 200
    report = response.json()
    assert report["rejected"] == 1 and "PNG" in report["files"][0]["error"]
    empty = client.post("/api/v1/ingest/call", content=b"", headers=NDJSON).json()
    assert empty["files"][0]["error"] == "file is empty"
