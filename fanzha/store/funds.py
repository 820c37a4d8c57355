"""Cases and orders in SQL: the store behind :class:`fanzha.funds.repo.FundsRepo`.

One row per case and per order: the whole object as JSON, the filtered columns beside it.
Creation is ``INSERT … ON CONFLICT DO NOTHING`` on the id (an order's id is derived from
``(case, account, kind)``), so a repeated request never makes two; saving is an
``UPDATE … WHERE version = read version``, so concurrent changes are refused, not lost.
The bank column holds :func:`~fanzha.funds.banks.bank_key` (so ``ICBC`` finds 工商银行).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session, sessionmaker

from fanzha.funds.banks import bank_key
from fanzha.funds.orders import Case, CaseState, Order, OrderState
from fanzha.funds.repo import StaleError
from fanzha.store._sql import dialect_insert
from fanzha.store.instructions import _storable
from fanzha.store.tables import CaseRecord, OrderRecord

_CASES: Table = CaseRecord.__table__  # type: ignore[assignment]
_ORDERS: Table = OrderRecord.__table__  # type: ignore[assignment]
_M = TypeVar("_M", Case, Order)


def _case_row(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "unit": case.unit,
        "state": case.state.value,
        "opened_at": case.opened_at,
        "escalated": case.escalated,
        "loss_fen": case.report.loss_fen,
        "version": case.version,
        "body": _storable(case.model_dump(mode="json")),
    }


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "case_id": order.case_id,
        "unit": order.unit,
        "account": order.account,
        "bank": bank_key(order.bank),
        "kind": order.kind.value,
        "state": order.state.value,
        "amount_fen": order.amount_fen,
        "held_fen": order.held_fen,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "version": order.version,
        "body": _storable(order.model_dump(mode="json")),
    }


class SqlFunds:
    """The ``cases`` and ``orders`` tables."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # ------------------------------------------------------------------ cases

    def create_case(self, case: Case) -> tuple[Case, bool]:
        """Store a new case (version 1), or return the stored one of that id."""
        fresh = case.model_copy(update={"version": 1})
        return self._create(_CASES, "case_id", _case_row(fresh), fresh, Case)

    def get_case(self, case_id: str) -> Case | None:
        """One case."""
        return self._one(_CASES, _CASES.c.case_id == case_id, Case)

    def save_case(self, case: Case) -> Case:
        """Write back a case read at ``case.version``."""
        saved = case.model_copy(update={"version": case.version + 1})
        return self._save(
            _CASES, _CASES.c.case_id, case.case_id, case.version, _case_row(saved), saved
        )

    def find_cases(
        self,
        *,
        units: Collection[str] | None = None,
        states: Collection[CaseState] | None = None,
        limit: int = 1000,
    ) -> builtins.list[Case]:
        """Matching cases, newest first."""
        query = select(_CASES.c.body)
        if units is not None:
            query = query.where(_CASES.c.unit.in_(list(units)))
        if states is not None:
            query = query.where(_CASES.c.state.in_([s.value for s in states]))
        query = query.order_by(_CASES.c.opened_at.desc(), _CASES.c.case_id.desc()).limit(limit)
        return self._many(query, Case)

    # ------------------------------------------------------------------ orders

    def create_order(self, order: Order) -> tuple[Order, bool]:
        """Store a new order (version 1), or return the stored one of that id."""
        fresh = order.model_copy(update={"version": 1})
        return self._create(_ORDERS, "order_id", _order_row(fresh), fresh, Order)

    def get_order(self, order_id: str) -> Order | None:
        """One order."""
        return self._one(_ORDERS, _ORDERS.c.order_id == order_id, Order)

    def save_order(self, order: Order) -> Order:
        """Write back an order read at ``order.version``."""
        saved = order.model_copy(update={"version": order.version + 1})
        row = _order_row(saved)
        return self._save(_ORDERS, _ORDERS.c.order_id, order.order_id, order.version, row, saved)

    def find_orders(
        self,
        *,
        case_id: str | None = None,
        units: Collection[str] | None = None,
        banks: Collection[str] | None = None,
        states: Collection[OrderState] | None = None,
        limit: int = 10_000,
    ) -> builtins.list[Order]:
        """Matching orders, oldest first."""
        c = _ORDERS.c
        query = select(c.body)
        if case_id is not None:
            query = query.where(c.case_id == case_id)
        if units is not None:
            query = query.where(c.unit.in_(list(units)))
        if banks is not None:
            query = query.where(c.bank.in_([bank_key(b) for b in banks]))
        if states is not None:
            query = query.where(c.state.in_([s.value for s in states]))
        return self._many(query.order_by(c.created_at, c.order_id).limit(limit), Order)

    # ------------------------------------------------------------------ internals

    def _create(
        self, table: Table, key: str, row: dict[str, Any], fresh: _M, model: type[_M]
    ) -> tuple[_M, bool]:
        with self._sessions.begin() as session:
            stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=[key])
            if session.execute(stmt.returning(table.c[key]), row).first() is not None:
                return fresh, True
            body = session.scalar(select(table.c.body).where(table.c[key] == row[key]))
        if body is None:  # pragma: no cover - a conflict on another unique key
            raise StaleError(str(row[key]), 0, None)
        return model.model_validate(body), False

    def _save(
        self, table: Table, key: Any, value: str, read: int, row: dict[str, Any], saved: _M
    ) -> _M:
        for fixed in (key.name, "created_at", "opened_at"):  # never change
            row.pop(fixed, None)
        stmt = update(table).where(key == value).where(table.c.version == read).values(**row)
        with self._sessions.begin() as session:
            if session.execute(stmt).rowcount == 1:  # type: ignore[attr-defined]
                return saved
            stored = session.scalar(select(table.c.version).where(key == value))
        raise StaleError(value, read, stored)

    def _one(self, table: Table, where: Any, model: type[_M]) -> _M | None:
        with self._sessions() as session:
            body = session.scalar(select(table.c.body).where(where))
        return None if body is None else model.model_validate(body)

    def _many(self, query: Any, model: type[_M]) -> builtins.list[_M]:
        with self._sessions() as session:
            return [model.model_validate(b) for b in session.scalars(query)]
