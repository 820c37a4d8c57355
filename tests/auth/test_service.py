"""The security service over memory stores: logins, limits, sessions, tokens, users, reveals."""

from __future__ import annotations

import datetime as dt

import pytest

from fanzha.auth.accounts import LoginLimits
from fanzha.auth.audit import verify
from fanzha.auth.masking import PiiKind, RevealRefused
from fanzha.auth.principal import Forbidden, Grant, OutOfScope, Principal, Scope
from fanzha.auth.roles import Role
from fanzha.auth.service import LoginFailed, LoginThrottled, PiiFields, PolicyError, Security
from fanzha.model.clock import ManualClock

from .builders import CITY, NANPING, PASSWORD, SHENGLI, START, security


def with_officer(sec: Security) -> None:
    grants = [
        Grant(role=Role.STATION_OFFICER, unit=NANPING),
        Grant(role=Role.DISTRICT_DISPATCHER, unit="500101"),
    ]
    sec.add_user("li.wei", "李伟", PASSWORD, grants, "user:admin")


def test_login_opens_a_session_that_knows_the_user() -> None:
    sec = security()
    with_officer(sec)
    login = sec.login("li.wei", PASSWORD, "10.0.0.1")
    assert login.principal.id == "user:li.wei" and login.principal.unit == NANPING
    assert login.cookie not in login.session.model_dump_json()  # only its hash is stored
    found = sec.session(login.cookie)
    assert found is not None and found[0].id == "user:li.wei"
    assert sec.session("forged") is None
    sec.logout(found[0])
    assert sec.session(login.cookie) is None
    actions = [e.action for e in sec.audit.entries()]
    assert actions == ["user.add", "auth.login", "auth.logout"]


def test_wrong_password_unknown_user_and_disabled_user_fail_alike() -> None:
    sec = security()
    with_officer(sec)
    for user, password in (("li.wei", "nope"), ("ghost", PASSWORD)):
        with pytest.raises(LoginFailed):
            sec.login(user, password)
    sec.set_disabled("li.wei", True, "user:admin")
    with pytest.raises(LoginFailed):
        sec.login("li.wei", PASSWORD)
    sec.set_disabled("li.wei", False, "user:admin")
    assert sec.login("li.wei", PASSWORD).principal.name == "li.wei"


def test_sessions_expire_when_idle_or_old_and_end_on_disable() -> None:
    clock = ManualClock(START)
    sec = security(clock)
    with_officer(sec)
    cookie = sec.login("li.wei", PASSWORD).cookie
    clock.advance(50 * 60)
    assert sec.session(cookie) is not None  # activity renews the idle timer
    clock.advance(50 * 60)
    assert sec.session(cookie) is not None
    clock.advance(61 * 60)
    assert sec.session(cookie) is None  # idle for over an hour
    cookie = sec.login("li.wei", PASSWORD).cookie
    for _ in range(14):
        clock.advance(55 * 60)
        alive = sec.session(cookie)
    assert alive is None  # past the 12-hour lifetime however active
    cookie = sec.login("li.wei", PASSWORD).cookie
    sec.set_disabled("li.wei", True, "user:admin")
    assert sec.session(cookie) is None


def test_password_change_ends_sessions_and_checks_the_policy() -> None:
    sec = security()
    with_officer(sec)
    cookie = sec.login("li.wei", PASSWORD).cookie
    with pytest.raises(PolicyError, match="12"):
        sec.set_password("li.wei", "short", "user:li.wei")
    sec.set_password("li.wei", "Another-Good-Pass-7", "user:li.wei")
    assert sec.session(cookie) is None
    with pytest.raises(LoginFailed):
        sec.login("li.wei", PASSWORD)
    assert sec.login("li.wei", "Another-Good-Pass-7")
    with pytest.raises(KeyError):
        sec.set_password("ghost", "Another-Good-Pass-7", "user:admin")


def test_rate_limits_per_user_and_per_address() -> None:
    clock = ManualClock(START)
    sec = security(clock, LoginLimits(per_user=3, per_ip=5, window=dt.timedelta(minutes=10)))
    with_officer(sec)
    for _ in range(3):
        with pytest.raises(LoginFailed):
            sec.login("li.wei", "wrong", "10.0.0.1")
    with pytest.raises(LoginThrottled):
        sec.login("li.wei", PASSWORD, "10.0.0.2")  # the right password does not help now
    clock.advance(11 * 60)
    sec.login("li.wei", PASSWORD, "10.0.0.2")  # the window passed
    for name in ("a", "b", "c", "d", "e"):
        with pytest.raises(LoginFailed):
            sec.login(name, "wrong", "10.9.9.9")
    with pytest.raises(LoginThrottled):
        sec.login("li.wei", PASSWORD, "10.9.9.9")  # this address tried too many names
    sec.login("li.wei", PASSWORD, "10.0.0.3")


def test_a_success_clears_the_users_count() -> None:
    clock = ManualClock(START)
    sec = security(clock, limits=LoginLimits(per_user=3, per_ip=100))
    with_officer(sec)
    for _ in range(2):
        with pytest.raises(LoginFailed):
            sec.login("li.wei", "wrong")
    sec.login("li.wei", PASSWORD)
    clock.advance(1)
    for _ in range(2):
        with pytest.raises(LoginFailed):
            sec.login("li.wei", "wrong")
    assert not sec.throttled("li.wei", "")


def test_switching_unit_is_kept_in_the_session() -> None:
    sec = security()
    with_officer(sec)
    login = sec.login("li.wei", PASSWORD)
    switched = sec.switch_unit(login.principal, 1)
    assert switched.role is Role.DISTRICT_DISPATCHER
    found = sec.session(login.cookie)
    assert found is not None and found[0].role is Role.DISTRICT_DISPATCHER
    with pytest.raises(Forbidden):
        sec.switch_unit(login.principal, 5)


def test_tokens_and_the_bootstrap_ingest_token() -> None:
    clock = ManualClock(START)
    sec = security(clock, bootstrap="let-me-in")
    record, text = sec.create_token("银行", Grant(role=Role.BANK_LIAISON, bank="ICBC"), "user:a")
    p = sec.token(text)
    assert p is not None and p.role is Role.BANK_LIAISON and p.grant.bank == "ICBC"
    assert sec.tokens.get(record.token_id).last_used_at == START  # type: ignore[union-attr]
    assert sec.token(text[:-1] + ("A" if text[-1] != "A" else "B")) is None
    assert sec.token("garbage") is None
    boot = sec.token("let-me-in")
    assert boot is not None and boot.role is Role.DATA_PROVIDER and boot.id == "token:bootstrap"
    assert sec.revoke_token(record.token_id, "user:a")
    assert not sec.revoke_token(record.token_id, "user:a")
    clock.advance(1)
    assert sec.token(text) is None
    assert [e.action for e in sec.audit.entries()] == ["token.create", "token.revoke"]


def test_users_need_grants_that_fit_the_tree() -> None:
    sec = security()
    with pytest.raises(PolicyError, match="unknown org unit"):
        sec.add_user("x", "X", PASSWORD, [Grant(role=Role.STATION_OFFICER, unit="9")], "a")
    with pytest.raises(PolicyError, match="not a station"):
        sec.add_user("x", "X", PASSWORD, [Grant(role=Role.CITY_ADMIN, unit=NANPING)], "a")
    with pytest.raises(ValueError, match="API tokens"):
        sec.add_user("x", "X", PASSWORD, [Grant(role=Role.DATA_PROVIDER)], "a")


def test_first_start_creates_one_admin() -> None:
    sec = security()
    password = sec.ensure_admin(CITY)
    assert password is not None
    login = sec.login("admin", password)
    assert login.principal.role is Role.CITY_ADMIN
    assert sec.ensure_admin(CITY) is None
    assert password not in str([e.model_dump() for e in sec.audit.entries()])


def _residents(_p: Principal, scope: Scope, object_id: str) -> PiiFields | None:
    homes = {"R1": NANPING, "R2": SHENGLI}
    if object_id not in homes or not scope.sees_resident(homes[object_id]):
        return None
    return {"phone": (PiiKind.PHONE, "13812341234")}


def test_reveal_is_scoped_reasoned_and_audited() -> None:
    sec = security()
    sec.register_revealer("resident", _residents)
    with pytest.raises(ValueError, match="already"):
        sec.register_revealer("resident", _residents)
    assert sec.revealable == ["resident"]
    with_officer(sec)
    officer = sec.login("li.wei", PASSWORD).principal
    assert sec.reveal(officer, "resident", "R1", "phone", "回访核实") == (
        PiiKind.PHONE,
        "13812341234",
    )
    for object_type, object_id, field in (
        ("resident", "R2", "phone"),  # another station's resident: as if absent
        ("resident", "R9", "phone"),
        ("resident", "R1", "name"),
        ("case", "R1", "phone"),
    ):
        with pytest.raises(OutOfScope):
            sec.reveal(officer, object_type, object_id, field, "回访核实")
    with pytest.raises(RevealRefused):
        sec.reveal(officer, "resident", "R1", "phone", "")
    entry = sec.audit.latest(action="pii.reveal")[0]
    assert (entry.actor, entry.object_id, entry.reason) == ("user:li.wei", "R1", "回访核实")
    assert entry.details == {"field": "phone", "kind": "phone"}
    assert "13812341234" not in entry.model_dump_json()
    assert verify(sec.audit.entries()).ok
