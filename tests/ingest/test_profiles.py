"""Column layouts: which header gives which transfer field; repeated header names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanzha.ingest.profiles import (
    ProfileError,
    _header_key,
    check_header,
    statement_roles,
    transfer_columns,
)
from fanzha.ingest.profiles import transfers as transfers_profile
from fanzha.ingest.readers import _numbered


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("交易金额(元)", ("交易金额", "yuan")),
        (" 交易金额 （ 元 ） ", ("交易金额", "yuan")),
        ("金额【人民币元】", ("金额", "yuan")),
        ("金额(分)", ("金额", "fen")),
        ("Amount [CNY]", ("amount", "yuan")),
        ("Amount (USD)", ("amount_(usd)", None)),  # not a unit we convert: part of the name
        ("Amount Paid", ("amount_paid", None)),
        ("tran-timestamp", ("tran_timestamp", None)),
        ("Sender.Account", ("sender_account", None)),
    ],
)
def test_header_key(header: str, key: tuple[str, str | None]) -> None:
    assert _header_key(header) == key


def test_transfer_columns_precedence() -> None:
    """The user's map first, canonical names next, then known headers in header order."""
    names = ["付款账号", "payee_account", "收款账号", "交易金额(分)", "Timestamp", "memo"]
    assert transfer_columns(names, {}) == {
        "payer_account": "付款账号",
        "amount_fen": "交易金额(分)",
        "ts": "Timestamp",
        "remittance": "memo",
    }
    user = {"payer_account": "收款账号", "ts": "memo"}
    got = transfer_columns(names, user)
    assert got["payer_account"] == "收款账号" and got["ts"] == "memo"
    assert "remittance" not in got  # its column is the user's ts: a column gives one field
    assert got["amount_fen"] == "交易金额(分)"


def test_transfer_columns_leave_repeated_names_alone() -> None:
    names = ["Timestamp", "Account", "Account.1", "sender_account"]
    got = transfer_columns(names, {})
    assert got == {"ts": "Timestamp", "payer_account": "sender_account"}
    assert "payee_account" not in got


def test_transfers_header_check_names_what_is_missing() -> None:
    profile = transfers_profile()
    check_header(profile, ["付款账号", "收款账号", "金额", "交易时间"])
    with pytest.raises(ProfileError, match=r"^no column gives ts, amount; the input has a, b"):
        check_header(profile, ["a", "b", "payer_account", "bene_acct"])
    with pytest.raises(ProfileError, match="the input has no columns"):
        check_header(profile, [])


@given(st.lists(st.sampled_from(["a", "a.1", "b", "", "a.2", "c"]), max_size=12))
def test_numbered_names_are_distinct_and_keep_first_uses(names: list[str]) -> None:
    got = _numbered(names)
    assert len(got) == len(names)
    named = [n for n in got if n]
    assert len(set(named)) == len(named)
    for i, (old, new) in enumerate(zip(names, got, strict=True)):
        if old not in names[:i]:
            assert new == old  # a name's first use is left as it is
        else:
            assert new.startswith(old + ".") or old == ""


def test_statement_roles_only_without_payer_and_payee() -> None:
    names = ["交易时间", "本方账号", "对方账号", "对方户名", "借贷标志", "交易金额"]
    assert statement_roles(names, transfer_columns(names, {})) == {
        "own_account": "本方账号",
        "counter_account": "对方账号",
        "counter_name": "对方户名",
        "direction": "借贷标志",
    }
    fen = ["交易卡号", "对手账号", "借方发生额(分)", "贷方发生额(分)"]
    assert statement_roles(fen, {}) == {
        "own_account": "交易卡号",
        "counter_account": "对手账号",
        "debit:fen": "借方发生额(分)",
        "credit:fen": "贷方发生额(分)",
    }
    both = ["付款账号", "收款账号", "本方账号", "对方账号"]
    assert statement_roles(both, transfer_columns(both, {})) is None  # payer and payee win
    mapped = {"payer_account": "本方账号"}
    assert statement_roles(["本方账号", "对方账号"], mapped) is None  # so does the user's map
    assert statement_roles(["本方账号", "金额"], {}) is None  # no counterparty: not a statement


def test_a_statement_header_needs_an_amount() -> None:
    profile = transfers_profile()
    check_header(profile, ["交易时间", "本方账号", "对方账号", "借方发生额", "贷方发生额"])
    with pytest.raises(ProfileError, match=r"^no column gives amount;"):
        check_header(profile, ["交易时间", "本方账号", "对方账号", "借贷标志"])
