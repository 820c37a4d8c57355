"""Helpers for API tests: settings with cheap hashes, users, logins with CSRF."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fanzha.auth.principal import Grant
from fanzha.auth.service import Security
from fanzha.settings import Settings

TOKEN = "s3cret-bootstrap-ingest-token"
BEARER = {"authorization": f"Bearer {TOKEN}"}
PASSWORD = "Correct-Horse-9"


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    """Settings for one test: its own data folder, the bootstrap token, cheap argon2, and
    no live loop (no thread acting behind the test's back; tests/api/test_live_api.py and
    tests/test_live.py turn it on)."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "ingest_token": TOKEN,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "live": False,
    }
    values.update(changes)
    return Settings(**values)


def security(client: TestClient) -> Security:
    """The running app's security service."""
    sec: Security = client.app.state.fz.security  # type: ignore[attr-defined]
    return sec


def add_user(client: TestClient, username: str, grants: Sequence[str | Grant]) -> str:
    """Create a user with grants like ``station_officer@50010101``; returns the password."""
    parsed = [g if isinstance(g, Grant) else Grant.parse(g) for g in grants]
    security(client).add_user(username, username, PASSWORD, parsed, "user:test")
    return PASSWORD


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the API (with the login CSRF dance); returns the session's CSRF token."""
    csrf = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    response = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={"x-csrf-token": csrf},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token
