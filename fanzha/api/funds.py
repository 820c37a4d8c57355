"""Funds routes: the stop-payment desk (reports, cases, orders, traces) and the bank liaison
interface (a bank's pending orders, and its results).

Thin: every route calls :class:`fanzha.funding.Funds` with the caller's scope, so another
unit's case or another bank's order is 404, exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, Field

from fanzha.api.auth import require, security_of
from fanzha.auth import Permission, Principal
from fanzha.funding import Funds, UnknownError
from fanzha.funds.extract import extract
from fanzha.funds.orders import BankAnswer, Case, Order, OrderRefused, OrderState
from fanzha.funds.report import ReportError, parse_report
from fanzha.model.values import InvalidValue

router = APIRouter(prefix="/api/v1", tags=["funds"])
_R = TypeVar("_R")


class BankResult(BaseModel):
    """A bank's result for one order: how much it holds (0: nothing could be held)."""

    answer_id: str = Field(min_length=1, max_length=128, description="The bank's reference.")
    held_fen: int = Field(ge=0, lt=10**15)
    balance_fen: int | None = Field(default=None, ge=0, lt=10**15)
    at: AwareDatetime | None = None
    note: str = Field(default="", max_length=500)


class Reason(BaseModel):
    """Why (audited); ``fen`` for a partial release."""

    reason: str = Field(min_length=2, max_length=500)
    fen: int | None = Field(default=None, gt=0, lt=10**15)


class Narrative(BaseModel):
    """A narrative to pre-fill a report from."""

    narrative: str = Field(max_length=80_000)
    at: AwareDatetime | None = None


def _funds(request: Request) -> Funds:
    funds: Funds = request.app.state.fz.funds
    return funds


def _guard(work: Callable[[], _R]) -> _R:
    """Map the service's refusals to HTTP answers."""
    try:
        return work()
    except UnknownError:
        raise HTTPException(404, "not found") from None
    except OrderRefused as exc:
        raise HTTPException(409, str(exc)) from None
    except ReportError as exc:
        detail = [{"loc": where, "msg": why} for where, why in exc.problems]
        raise HTTPException(422, detail) from None
    except InvalidValue as exc:
        raise HTTPException(422, str(exc)) from None


def order_json(order: Order) -> dict[str, Any]:
    """An order as the API shows it (the account is the bank's own business: not masked for
    the bank; police pages mask it themselves)."""
    return order.model_dump(mode="json", exclude={"answers"})


def case_json(case: Case) -> dict[str, Any]:
    """A case, with the victim's identifiers left out (revealed through /reveal only)."""
    body = case.model_dump(mode="json")
    for name in ("victim_phone", "victim_id_number", "victim_name"):
        body["report"][name] = None if body["report"][name] is None else "***"
    return body


# ---------------------------------------------------------------------- the bank liaison


@router.get("/bank/orders")
def bank_orders(
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.ORDERS_READ))],
    state: OrderState | None = OrderState.SENT,
) -> list[dict[str, Any]]:
    """Orders waiting for the caller's bank (a liaison sees only its bank's; police the
    orders of their units' cases). ``state``: sent (pending) by default."""
    scope = security_of(request).scope(principal)
    states = None if state is None else [state]
    return [order_json(o) for o in _funds(request).orders(scope, states=states)]


@router.post("/bank/orders/{order_id}/result")
def bank_result(
    order_id: str,
    result: BankResult,
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.ORDERS_RESPOND))],
) -> dict[str, Any]:
    """Post a bank's result. The same answer id twice changes nothing; an answer to an order
    no longer waiting is kept in its history and changes nothing else."""
    funds = _funds(request)
    scope = security_of(request).scope(principal)
    answer = BankAnswer(
        answer_id=result.answer_id,
        held_fen=result.held_fen,
        balance_fen=result.balance_fen,
        at=result.at or funds.clock.now(),
        note=result.note,
    )
    order, changed = _guard(lambda: funds.answer(order_id, answer, principal.id, scope))
    return {"order": order_json(order), "changed": changed}


# ---------------------------------------------------------------------- the desk


@router.post("/reports/extract")
def extract_report(
    body: Narrative, _: Annotated[Principal, Depends(require(Permission.CASES_WRITE))]
) -> dict[str, Any]:
    """What a narrative names, to pre-fill the report form (the officer confirms)."""
    found = _guard(lambda: extract(body.narrative, body.at or dt.datetime.now(dt.UTC)))
    return {
        "accounts": found.accounts,
        "phones": found.phones,
        "urls": found.urls,
        "apps": found.apps,
        "amounts_fen": found.amounts_fen,
        "times": [t.isoformat() for t in found.times],
        "payments": [
            {
                "account": p.account,
                "amount_fen": p.amount_fen,
                "paid_at": None if p.paid_at is None else p.paid_at.isoformat(),
            }
            for p in found.payments
        ],
        "loss_fen": found.loss_fen,
    }


@router.post("/cases")
def open_case(
    body: dict[str, Any],
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.CASES_WRITE))],
) -> dict[str, Any]:
    """Confirm a report: open its case (once), learn its indicators, stop its payees."""
    scope = security_of(request).scope(principal)
    data = {**body, "taken_by": principal.id}
    report = _guard(lambda: parse_report(data))
    scope.check(scope.bank is None and scope.sees_unit(report.unit), f"unit {report.unit}")
    done = _guard(lambda: _funds(request).intake(report, principal.id))
    return {
        "case": case_json(done.case),
        "created": done.created,
        "orders": [order_json(o) for o in done.orders],
        "indicators": done.indicators,
    }


@router.get("/cases")
def list_cases(
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.CASES_READ))],
    open_only: bool = False,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Cases in the caller's jurisdiction, newest first."""
    scope = security_of(request).scope(principal)
    found = _funds(request).cases(scope, open_only=open_only, limit=min(max(limit, 1), 1000))
    return [case_json(c) for c in found]


@router.get("/cases/{case_id}")
def show_case(
    case_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.CASES_READ))],
) -> dict[str, Any]:
    """One case and its orders."""
    funds = _funds(request)
    scope = security_of(request).scope(principal)
    case = _guard(lambda: funds.case(case_id, scope))
    orders = funds.orders(scope, case_id=case_id)
    return {"case": case_json(case), "orders": [order_json(o) for o in orders]}


@router.get("/cases/{case_id}/trace")
def trace_case(
    case_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.TRACE_READ))],
) -> list[dict[str, Any]]:
    """One trace per payment of the case (``fanzha trace --json`` format)."""
    scope = security_of(request).scope(principal)
    tz = request.app.state.fz.settings.timezone
    traces = _guard(lambda: _funds(request).trace_case(case_id, scope))
    return [t.to_json(tz) for t in traces]


@router.post("/cases/{case_id}/extend")
def extend_case(
    case_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.CASES_WRITE))],
) -> list[dict[str, Any]]:
    """延伸止付 now: orders (or proposals) for every downstream account holding the money."""
    scope = security_of(request).scope(principal)
    found = _guard(lambda: _funds(request).extend(case_id, principal.id, scope))
    return [{"account": t.account, "hop": t.hop, "fen": t.fen} for t in found]


@router.post("/orders/{order_id}/release")
def release_order(
    order_id: str,
    body: Reason,
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.CASES_WRITE))],
) -> dict[str, Any]:
    """Release all (or ``fen``) of what an order holds, with a reason (audited)."""
    scope = security_of(request).scope(principal)
    funds = _funds(request)
    order = _guard(lambda: funds.release(order_id, principal.id, body.reason, body.fen, scope))
    return order_json(order)
