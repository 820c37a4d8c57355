"""Where cases and orders are kept: the :class:`FundsRepo` Protocol and an in-memory
implementation (the SQL one is :mod:`fanzha.store.funds`).

Creation is idempotent (a case by its id, an order by ``(case, account, kind)`` through its
derived id); saving is optimistic: a save over a newer version raises :class:`StaleError`,
so that a bank's answer and an officer's release never overwrite each other.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Protocol

from fanzha.funds.banks import bank_key
from fanzha.funds.orders import Case, CaseState, Order, OrderState


class StaleError(RuntimeError):
    """Someone saved the object after it was read: read it again and redo the step."""

    def __init__(self, object_id: str, read: int, stored: int | None) -> None:
        self.object_id = object_id
        found = "it does not exist" if stored is None else f"it is at version {stored}"
        super().__init__(f"{object_id} was read at version {read} but {found}")


class FundsRepo(Protocol):
    """Cases and orders."""

    def create_case(self, case: Case) -> tuple[Case, bool]:
        """Store a new case (version 1), or return the stored one of that id (and False)."""
        ...

    def get_case(self, case_id: str) -> Case | None:
        """One case."""
        ...

    def save_case(self, case: Case) -> Case:
        """Write a case read at ``case.version``; StaleError when it moved on."""
        ...

    def find_cases(
        self,
        *,
        units: Collection[str] | None = None,
        states: Collection[CaseState] | None = None,
        limit: int = 1000,
    ) -> list[Case]:
        """Cases matching every filter, newest first."""
        ...

    def create_order(self, order: Order) -> tuple[Order, bool]:
        """Store a new order (version 1), or return the stored one of that id (and False)."""
        ...

    def get_order(self, order_id: str) -> Order | None:
        """One order."""
        ...

    def save_order(self, order: Order) -> Order:
        """Write an order read at ``order.version``; StaleError when it moved on."""
        ...

    def find_orders(
        self,
        *,
        case_id: str | None = None,
        units: Collection[str] | None = None,
        banks: Collection[str] | None = None,
        states: Collection[OrderState] | None = None,
        limit: int = 10_000,
    ) -> list[Order]:
        """Orders matching every filter, oldest first."""
        ...


class MemoryFundsRepo:
    """Cases and orders in dicts; copies in and out, like a database."""

    def __init__(self) -> None:
        self._cases: dict[str, Case] = {}
        self._orders: dict[str, Order] = {}
        self._by_case: dict[str, builtins.list[str]] = {}  # order ids (an order keeps its case)

    def create_case(self, case: Case) -> tuple[Case, bool]:
        """Store a new case or return the stored one."""
        found = self._cases.get(case.case_id)
        if found is not None:
            return found.model_copy(deep=True), False
        stored = case.model_copy(deep=True, update={"version": 1})
        self._cases[case.case_id] = stored
        return stored.model_copy(deep=True), True

    def get_case(self, case_id: str) -> Case | None:
        """One case."""
        found = self._cases.get(case_id)
        return None if found is None else found.model_copy(deep=True)

    def save_case(self, case: Case) -> Case:
        """Write it back if nobody saved it since it was read."""
        stored = self._cases.get(case.case_id)
        if stored is None or stored.version != case.version:
            raise StaleError(case.case_id, case.version, None if stored is None else stored.version)
        saved = case.model_copy(deep=True, update={"version": case.version + 1})
        self._cases[case.case_id] = saved
        return saved.model_copy(deep=True)

    def find_cases(
        self,
        *,
        units: Collection[str] | None = None,
        states: Collection[CaseState] | None = None,
        limit: int = 1000,
    ) -> builtins.list[Case]:
        """Matching cases, newest first."""
        found = [
            c
            for c in self._cases.values()
            if (units is None or c.unit in units) and (states is None or c.state in states)
        ]
        found.sort(key=lambda c: (c.opened_at, c.case_id), reverse=True)
        return [c.model_copy(deep=True) for c in found[:limit]]

    def create_order(self, order: Order) -> tuple[Order, bool]:
        """Store a new order or return the stored one."""
        found = self._orders.get(order.order_id)
        if found is not None:
            return found.model_copy(deep=True), False
        stored = order.model_copy(deep=True, update={"version": 1})
        self._orders[order.order_id] = stored
        self._by_case.setdefault(order.case_id, []).append(order.order_id)
        return stored.model_copy(deep=True), True

    def get_order(self, order_id: str) -> Order | None:
        """One order."""
        found = self._orders.get(order_id)
        return None if found is None else found.model_copy(deep=True)

    def save_order(self, order: Order) -> Order:
        """Write it back if nobody saved it since it was read."""
        stored = self._orders.get(order.order_id)
        if stored is None or stored.version != order.version:
            raise StaleError(
                order.order_id, order.version, None if stored is None else stored.version
            )
        saved = order.model_copy(deep=True, update={"version": order.version + 1})
        self._orders[order.order_id] = saved
        return saved.model_copy(deep=True)

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
        pool = (
            self._orders.values()
            if case_id is None
            else [self._orders[i] for i in self._by_case.get(case_id, [])]
        )
        found = [
            o
            for o in pool
            if (units is None or o.unit in units)
            and (banks is None or bank_key(o.bank) in {bank_key(b) for b in banks})
            and (states is None or o.state in states)
        ]
        found.sort(key=lambda o: (o.created_at, o.order_id))
        return [o.model_copy(deep=True) for o in found[:limit]]
