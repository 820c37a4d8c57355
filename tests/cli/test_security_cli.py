"""``fanzha users``, ``fanzha tokens``, ``fanzha audit`` and the first start's admin."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.cli.security import ensure_admin
from fanzha.service import App
from fanzha.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder, English labels, cheap argon2."""
    folder = tmp_path / "data"
    monkeypatch.setenv("FANZHA_DATA_DIR", str(folder))
    monkeypatch.setenv("FANZHA_LANG", "en")
    monkeypatch.setenv("FANZHA_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("FANZHA_ARGON2_MEMORY_KIB", "8")
    return folder


def fanzha(*args: str, ok: bool = True, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(app, list(args), input=stdin)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_users_add_list_passwd_disable(data_dir: Path) -> None:
    added = fanzha("users", "add", "li.wei", "--name", "李伟", "-g", "station_officer@50010101")
    password = added.stdout.strip().splitlines()[-1]
    assert "shown this once" in added.stdout and len(password) == 20
    fanzha(
        "users", "add", "wang", "-g", "city_analyst@500100", "--password-stdin",
        stdin="Correct-Horse-9\n",
    )  # fmt: skip
    listed = as_json(fanzha("users", "list", "--json"))
    assert [u["username"] for u in listed] == ["li.wei", "wang"]
    assert listed[0]["grants"] == ["station_officer@50010101"] and listed[0]["name"] == "李伟"
    assert "argon2" not in fanzha("users", "list").stdout
    weak = fanzha("users", "passwd", "wang", "--password-stdin", stdin="short\n", ok=False)
    assert weak.exit_code == 1 and "12" in weak.output
    fanzha("users", "passwd", "wang")
    fanzha("users", "disable", "li.wei")
    assert as_json(fanzha("users", "list", "--json"))[0]["disabled"] is True
    fanzha("users", "enable", "li.wei")
    bad = fanzha("users", "add", "x", "-g", "pilot@1", ok=False)
    assert bad.exit_code == 1 and "unknown role" in bad.output
    twice = fanzha("users", "add", "wang", "-g", "city_analyst@500100", ok=False)
    assert "exists" in twice.output
    assert fanzha("users", "disable", "ghost", ok=False).exit_code == 1
    with App(Settings()) as fz:
        assert fz.security.users.get("wang") is not None


def test_tokens_create_list_revoke(data_dir: Path) -> None:
    created = fanzha("tokens", "create", "移动话单", "--expires-days", "30")
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("fz_")
    bank = fanzha("tokens", "create", "工行", "--role", "bank_liaison", "--bank", "ICBC")
    assert bank.stdout.strip().splitlines()[-1].startswith("fz_")
    listed = as_json(fanzha("tokens", "list", "--json"))
    assert {t["grant"] for t in listed} == {"data_provider", "bank_liaison@ICBC"}
    assert all(token not in json.dumps(t) for t in listed)
    token_id = token.split("_")[1]
    with App(Settings()) as fz:
        principal = fz.security.token(token)
        assert principal is not None and principal.name == token_id
    fanzha("tokens", "revoke", token_id)
    assert fanzha("tokens", "revoke", token_id, ok=False).exit_code == 1
    with App(Settings()) as fz:
        assert fz.security.token(token) is None
    refused = fanzha("tokens", "create", "x", "--role", "city_admin", ok=False)
    assert refused.exit_code == 1
    assert fanzha("tokens", "create", "x", "--role", "bank_liaison", ok=False).exit_code == 1


def test_audit_verify_finds_an_edited_row(data_dir: Path) -> None:
    for name in ("a", "b", "c"):
        fanzha("users", "add", name, "-g", "city_analyst@500100")
    ok = as_json(fanzha("audit", "verify", "--json"))
    assert ok["ok"] and ok["checked"] == 3 and ok["broken"] is None
    assert "intact: 3 entries" in fanzha("audit", "verify").stdout
    listed = as_json(fanzha("audit", "list", "--json", "--action", "user.add"))
    assert [e["object_id"] for e in listed] == ["c", "b", "a"]
    assert listed[0]["actor"].startswith("cli:")
    assert "user.add" in fanzha("audit", "list").stdout

    # someone with the database file drops the guard trigger and edits an entry
    with sqlite3.connect(data_dir / "fanzha.db") as db:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit_log SET object_id = 'x' WHERE seq = 2")
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET object_id = 'mallory' WHERE seq = 2")
    broken = fanzha("audit", "verify", "--json", ok=False)
    assert broken.exit_code == 1
    report = as_json(broken)
    assert report["ok"] is False and report["checked"] == 1
    assert report["broken"]["seq"] == 2 and "edited" in report["broken"]["reason"]
    assert report["broken"]["entry"]["object_id"] == "mallory"
    text = fanzha("audit", "verify", ok=False)
    assert "broken at entry 2" in text.output


def test_audit_verify_finds_a_deleted_row(data_dir: Path) -> None:
    for name in ("a", "b", "c"):
        fanzha("users", "add", name, "-g", "city_analyst@500100")
    with sqlite3.connect(data_dir / "fanzha.db") as db:
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("DELETE FROM audit_log WHERE seq = 2")
    report = as_json(fanzha("audit", "verify", "--json", ok=False))
    assert report["broken"]["seq"] == 3 and "missing" in report["broken"]["reason"]


def test_first_start_prints_the_admin_password_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings()
    with App(settings) as fz:
        ensure_admin(fz, "en")
    first = capsys.readouterr().out
    assert "created the admin user" in first
    password = first.strip().splitlines()[-1]
    with App(settings) as fz:
        ensure_admin(fz, "en")
        assert fz.security.login("admin", password, "").principal.role.value == "city_admin"
    assert capsys.readouterr().out == ""
