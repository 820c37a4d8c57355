"""The funds repository contract, on memory, SQLite and PostgreSQL: idempotent creation,
optimistic saves, filters (unit, bank by any of its names, state), objects back exactly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from fanzha.funds.orders import (
    BankAnswer,
    Case,
    CaseState,
    Order,
    OrderKind,
    OrderPolicy,
    OrderState,
)
from fanzha.funds.repo import FundsRepo, MemoryFundsRepo, StaleError
from fanzha.funds.report import parse_report
from fanzha.store import Store
from fanzha.store.funds import SqlFunds

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
ACC = "6222021234567890128"  # 工商银行 by BIN


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FundsRepo]:
    if request.param == "memory":
        yield MemoryFundsRepo()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{(tmp_path / 'fanzha.db').as_posix()}"
    else:
        url = request.getfixturevalue("postgres_server").create_schema()
    with Store.open_url(url) as store:
        yield SqlFunds(store.sessions)


def case(report_id: str = "R1", unit: str = "S1") -> Case:
    report = parse_report({
        "report_id": report_id, "unit": unit, "received_at": T0, "taken_by": "user:li",
        "narrative": "报案人称\x00其被骗", "loss_fen": 20_000_000,
        "payments": [{"account": ACC, "amount_fen": 20_000_000, "paid_at": T0}],
    })  # fmt: skip
    return Case.open("C-" + report_id, report, "user:li", T0)


def order(
    case_id: str = "C-R1", unit: str = "S1", kind: OrderKind = OrderKind.STOP_PAYMENT
) -> Order:
    return Order.draft(case_id, unit, ACC, "工商银行", kind, 20_000_000, "user:li", T0, "止付")


def test_cases_are_created_once_and_come_back_as_saved(repo: FundsRepo) -> None:
    made, created = repo.create_case(case())
    assert created and made.version == 1 and made.escalated
    again, created_again = repo.create_case(case())
    assert not created_again and again.case_id == made.case_id
    made.close("user:li", T0, "办结")
    saved = repo.save_case(made)
    loaded = repo.get_case("C-R1")
    assert loaded is not None and loaded.state is CaseState.CLOSED and loaded.version == 2
    assert loaded.report.narrative in ("报案人称其被骗", "报案人称\\x00其被骗")
    with pytest.raises(StaleError):
        repo.save_case(made)  # read at version 1, stored at 2
    assert saved.version == 2


def test_orders_are_idempotent_by_case_account_and_kind(repo: FundsRepo) -> None:
    repo.create_case(case())
    _, created = repo.create_order(order())
    assert created
    _, again = repo.create_order(order())
    assert not again
    _, freeze = repo.create_order(order(kind=OrderKind.FREEZE))
    assert freeze
    assert len(repo.find_orders(case_id="C-R1")) == 2


def test_saves_are_optimistic_and_filters_work(repo: FundsRepo) -> None:
    repo.create_case(case())
    repo.create_case(case("R2", "S2"))
    stored, _ = repo.create_order(order())
    repo.create_order(order("C-R2", "S2"))
    stored.send("user:li", T0)
    stored.answer(BankAnswer(answer_id="A1", held_fen=5, at=T0), T0, OrderPolicy())
    saved = repo.save_order(stored)
    assert saved.version == 2
    with pytest.raises(StaleError):
        repo.save_order(stored)
    loaded = repo.get_order(stored.order_id)
    assert loaded == saved
    assert [o.case_id for o in repo.find_orders(units=["S2"])] == ["C-R2"]
    assert len(repo.find_orders(banks=["工商银行"])) == 2
    partial = repo.find_orders(states=[OrderState.PARTIAL])
    assert [o.order_id for o in partial] == [stored.order_id]
    assert [c.case_id for c in repo.find_cases(units=["S1"])] == ["C-R1"]
