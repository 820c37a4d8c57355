"""Security stores: one contract over memory, SQLite and PostgreSQL; the audit log is
append-only in the database too."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fanzha.auth.accounts import LoginAttempt, UserAccount, new_session
from fanzha.auth.audit import AuditEvent, AuditLog, MemoryAuditLog, verify
from fanzha.auth.principal import Grant
from fanzha.auth.repo import (
    DuplicateError,
    LoginAttemptRepo,
    MemoryLoginAttempts,
    MemorySessions,
    MemoryTokens,
    MemoryUsers,
    SessionRepo,
    TokenRepo,
    UserRepo,
)
from fanzha.auth.roles import Role
from fanzha.auth.tokens import new_token
from fanzha.store import Store
from fanzha.store.security import (
    SqlAuditLog,
    SqlLoginAttempts,
    SqlSessions,
    SqlTokens,
    SqlUsers,
)

T0 = dt.datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)


@dataclass
class Repos:
    users: UserRepo
    tokens: TokenRepo
    sessions: SessionRepo
    attempts: LoginAttemptRepo
    audit: AuditLog
    store: Store | None = None


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def repos(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repos]:
    if request.param == "memory":
        yield Repos(
            MemoryUsers(), MemoryTokens(), MemorySessions(), MemoryLoginAttempts(), MemoryAuditLog()
        )
        return
    if request.param == "sqlite":
        url = f"sqlite:///{(tmp_path / 'fanzha.db').as_posix()}"
    else:
        url = request.getfixturevalue("postgres_server").create_schema()
    store = Store.open_url(url)
    s = store.sessions
    try:
        yield Repos(
            SqlUsers(s), SqlTokens(s), SqlSessions(s), SqlLoginAttempts(s), SqlAuditLog(s), store
        )
    finally:
        store.close()


def user(name: str = "li.wei", **changes: object) -> UserAccount:
    data: dict[str, object] = {
        "username": name,
        "name": "李伟",
        "password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
        "grants": (
            Grant(role=Role.STATION_OFFICER, unit="50010101"),
            Grant(role=Role.DISTRICT_DISPATCHER, unit="500101"),
        ),
        "created_at": T0,
        "password_changed_at": T0,
    }
    data.update(changes)
    return UserAccount.model_validate(data)


def test_users(repos: Repos) -> None:
    assert repos.users.count() == 0 and repos.users.get("li.wei") is None
    repos.users.add(user())
    repos.users.add(user("a.admin", grants=(Grant(role=Role.CITY_ADMIN, unit="500100"),)))
    with pytest.raises(DuplicateError):
        repos.users.add(user())
    assert repos.users.get("li.wei") == user()
    repos.users.save(user(disabled=True))
    found = repos.users.get("li.wei")
    assert found is not None and found.disabled and found.grants == user().grants
    assert [u.username for u in repos.users.list()] == ["a.admin", "li.wei"]
    assert repos.users.count() == 2
    with pytest.raises(KeyError):
        repos.users.save(user("ghost"))


def test_tokens(repos: Repos) -> None:
    provider, _ = new_token("话单", Grant(role=Role.DATA_PROVIDER), created_by="user:a", now=T0)
    later = T0 + dt.timedelta(hours=1)
    bank, _ = new_token(
        "工行", Grant(role=Role.BANK_LIAISON, bank="ICBC"), created_by="user:a", now=later
    )
    repos.tokens.add(provider)
    repos.tokens.add(bank)
    with pytest.raises(DuplicateError):
        repos.tokens.add(bank)
    assert repos.tokens.get(bank.token_id) == bank
    assert [t.token_id for t in repos.tokens.list()] == [bank.token_id, provider.token_id]
    repos.tokens.touch(bank.token_id, later)
    assert repos.tokens.revoke(bank.token_id, later)
    assert not repos.tokens.revoke(bank.token_id, later)
    assert not repos.tokens.revoke("000000000000", later)
    stored = repos.tokens.get(bank.token_id)
    assert stored is not None and stored.revoked_at == later and stored.last_used_at == later
    assert repos.tokens.get("ffffffffffff") is None


def test_sessions(repos: Repos) -> None:
    life = dt.timedelta(hours=12)
    one, _ = new_session("li.wei", now=T0, lifetime=life, ip="10.0.0.1")
    two, _ = new_session("li.wei", now=T0 + dt.timedelta(hours=1), lifetime=life)
    other, _ = new_session("wang", now=T0, lifetime=dt.timedelta(minutes=1))
    for s in (one, two, other):
        repos.sessions.add(s)
    assert repos.sessions.get(one.session_hash) == one
    repos.sessions.touch(one.session_hash, T0 + dt.timedelta(minutes=5), active_grant=1)
    touched = repos.sessions.get(one.session_hash)
    assert touched is not None and touched.active_grant == 1
    assert touched.last_seen_at == T0 + dt.timedelta(minutes=5)
    assert repos.sessions.purge(T0 + dt.timedelta(minutes=2)) == 1
    assert repos.sessions.get(other.session_hash) is None
    repos.sessions.delete(two.session_hash)
    assert repos.sessions.get(two.session_hash) is None
    repos.sessions.add(two)
    assert repos.sessions.delete_user("li.wei") == 2
    assert repos.sessions.get(one.session_hash) is None


def test_login_attempts(repos: Repos) -> None:
    a = repos.attempts
    for i in range(3):
        a.record(LoginAttempt("li.wei", "10.0.0.1", T0 + dt.timedelta(minutes=i), False))
    a.record(LoginAttempt("wang", "10.0.0.1", T0, False))
    a.record(LoginAttempt("li.wei", "10.0.0.2", T0 + dt.timedelta(minutes=5), True))
    before = T0 - dt.timedelta(seconds=1)
    assert a.failures(since=before, username="li.wei") == 3
    assert a.failures(since=T0, username="li.wei") == 2  # strictly after
    assert a.failures(since=before, ip="10.0.0.1") == 4
    assert a.failures(since=before, username="li.wei", ip="10.0.0.2") == 0
    assert a.last_success("li.wei") == T0 + dt.timedelta(minutes=5)
    assert a.last_success("wang") is None
    assert a.purge(T0 + dt.timedelta(minutes=1)) == 2
    assert a.failures(since=before, ip="10.0.0.1") == 2


def event(i: int) -> AuditEvent:
    return AuditEvent(
        at=T0 + dt.timedelta(seconds=i),
        actor="user:li.wei",
        action="pii.reveal" if i % 2 else "user.add",
        object_type="instruction",
        object_id=f"INS-{i}",
        reason="回访核实",
        details={"field": "phone", "n": i, "x": [1.5, None, True, "中文"]},
    )


def test_the_audit_chain_round_trips(repos: Repos) -> None:
    assert repos.audit.head() is None
    sealed = [repos.audit.append(event(i)) for i in range(5)]
    stored = list(repos.audit.entries())
    assert stored == sealed
    result = verify(stored)
    assert result.ok and result.checked == 5 and result.head == sealed[-1].hash
    assert repos.audit.head() == sealed[-1]
    assert [e.seq for e in repos.audit.entries(after=3)] == [4, 5]
    assert [e.seq for e in repos.audit.latest(2)] == [5, 4]
    assert [e.seq for e in repos.audit.latest(actor="user:li.wei", action="pii.reveal")] == [4, 2]


def test_the_audit_log_pages_through_long_chains(
    repos: Repos, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fanzha.store.security as sec

    monkeypatch.setattr(sec, "_PAGE", 2)
    for i in range(5):
        repos.audit.append(event(i))
    assert [e.seq for e in repos.audit.entries()] == [1, 2, 3, 4, 5]


def test_concurrent_appends_make_one_chain(repos: Repos) -> None:
    if repos.store is None:
        pytest.skip("the memory log is for one thread")

    def work(k: int) -> None:
        for i in range(5):
            repos.audit.append(event(k * 10 + i))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = list(repos.audit.entries())
    assert len(entries) == 20 and verify(entries).ok


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"]
)
def test_the_database_refuses_to_change_the_audit_log(repos: Repos, statement: str) -> None:
    if repos.store is None:
        pytest.skip("SQL only")
    repos.audit.append(event(0))
    with pytest.raises(DBAPIError, match="append-only"), repos.store.engine.begin() as conn:
        conn.execute(text(statement))
    assert verify(repos.audit.entries()).ok
