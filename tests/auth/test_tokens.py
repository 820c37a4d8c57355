"""API tokens: random, stored as a hash, scoped to a machine role."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from fanzha.auth.principal import Grant, PrincipalKind
from fanzha.auth.roles import Role
from fanzha.auth.tokens import hash_secret, new_token, parse_token, secret_matches

from .builders import CITY, START


def test_a_token_is_shown_once_and_stored_as_a_hash() -> None:
    grant = Grant(role=Role.DATA_PROVIDER)
    record, text = new_token("移动话单", grant, created_by="user:admin", now=START)
    token_id, secret = parse_token(text) or ("", "")
    assert token_id == record.token_id and text.startswith("fz_")
    assert secret not in record.model_dump_json() and record.secret_hash == hash_secret(secret)
    assert secret_matches(record, secret) and not secret_matches(record, secret[:-1] + "x")
    p = record.principal()
    assert p.kind is PrincipalKind.TOKEN and p.id == f"token:{token_id}" and p.display_name
    assert parse_token("fz_nothex_abc") is None and parse_token("Bearer x") is None


def test_tokens_carry_only_machine_roles() -> None:
    with pytest.raises(ValidationError, match="tokens carry only"):
        new_token("x", Grant(role=Role.CITY_ADMIN, unit=CITY), created_by="a", now=START)
    record, _ = new_token(
        "icbc", Grant(role=Role.BANK_LIAISON, bank="ICBC"), created_by="a", now=START
    )
    assert record.principal().grant.bank == "ICBC"


def test_expiry_and_revocation() -> None:
    later = START + dt.timedelta(days=30)
    record, _ = new_token(
        "x", Grant(role=Role.DATA_PROVIDER), created_by="a", now=START, expires_at=later
    )
    assert record.usable_at(START) and not record.usable_at(later)
    revoked = record.model_copy(update={"revoked_at": START + dt.timedelta(hours=1)})
    assert revoked.usable_at(START) and not revoked.usable_at(START + dt.timedelta(hours=2))
