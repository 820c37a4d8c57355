"""The stop-payment desk's pages (止付专岗): report entry with the narrative pre-fill, the
victim mirror screen (一机双屏), a case's payees and orders (live), one-click extended
stop-payment, and the trace view.

Thin: every route calls :class:`fanzha.funding.Funds` with the caller's scope (another
unit's case is the 404 page, like one that does not exist) and renders; the content is
built in :mod:`fanzha.web.desk` and :mod:`fanzha.web.trace_view`.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from fanzha.api.auth import security_of, settings_of
from fanzha.auth import OutOfScope, Permission, Principal, Scope
from fanzha.funding import Funds
from fanzha.funds.orders import OrderRefused
from fanzha.funds.report import ReportError, parse_report
from fanzha.model.enums import FraudType
from fanzha.web import desk, trace_view
from fanzha.web.mirror import Pads
from fanzha.web.pages import User, lang_of, page

__all__ = ["Pads", "router"]
router = APIRouter(include_in_schema=False)


def _funds(request: Request) -> Funds:
    funds: Funds = request.app.state.fz.funds
    return funds


def _pads(request: Request) -> Pads:
    pads: Pads = request.app.state.pads
    return pads


def _scope(request: Request, principal: Principal) -> Scope:
    return security_of(request).scope(principal)


def _tz(request: Request) -> str:
    return str(settings_of(request).timezone)


# ---------------------------------------------------------------------- report entry


def _desk_context(
    request: Request, principal: Principal, draft: desk.Draft, pad_id: str
) -> dict[str, Any]:
    cases = _funds(request).cases(_scope(request, principal), limit=30)
    tz, lang = _tz(request), lang_of(request)
    return {
        "draft": draft.padded(),
        "pad": pad_id,
        "cases": [desk.case_view(c, tz, lang) for c in cases],
        "fraud_types": list(FraudType),
        "can_write": principal.can(Permission.CASES_WRITE),
    }


@router.get("/desk")
async def desk_page(request: Request, principal: User) -> Response:
    """The desk: a new report form (with its mirror pad) and the unit's recent cases."""
    principal.require(Permission.CASES_READ)
    pad = _pads(request).open(principal.id)
    context = await run_in_threadpool(_desk_context, request, principal, desk.Draft(), pad.pad_id)
    return page(request, "desk.html", context)


@router.post("/desk/extract")
async def desk_extract(request: Request, principal: User) -> Response:
    """Pre-fill from the narrative: the form's rows again, with what it names added."""
    principal.require(Permission.CASES_WRITE)
    form = await request.form()
    typed = desk.draft_of(form)
    now = request.app.state.fz.clock.now()
    try:
        draft = desk.prefill(typed.narrative, now, _tz(request), typed)
    except ValueError as exc:  # a narrative over the size limit
        context = {"draft": typed.padded(), "fraud_types": list(FraudType), "error": str(exc)}
        return page(request, "_desk_rows.html", context, 422)
    context = {"draft": draft.padded(), "fraud_types": list(FraudType)}
    response = page(request, "_desk_rows.html", context)
    response.headers["HX-Trigger-After-Settle"] = "fz:pad"  # the mirror shows the new rows
    return response


@router.get("/desk/row")
async def desk_row(request: Request, principal: User) -> Response:
    """One empty payment row (the form's "add a payee")."""
    principal.require(Permission.CASES_WRITE)
    return page(request, "_desk_payment.html", {"row": desk.PayRow()})


@router.post("/desk/pad/{pad_id}")
async def desk_pad(request: Request, principal: User, pad_id: str) -> Response:
    """What the officer has typed so far, for the mirror screen (sent as they type)."""
    principal.require(Permission.CASES_WRITE)
    form = await request.form()
    _pads(request).put(pad_id, principal.id, desk.draft_of(form))
    return Response(status_code=204)


def _confirm(request: Request, principal: Principal, draft: desk.Draft, pad_id: str) -> str:
    data = desk.report_data(
        draft,
        report_id=f"D-{pad_id}",
        unit=principal.unit or "",
        taken_by=principal.id,
        now=request.app.state.fz.clock.now(),
        tz=_tz(request),
    )
    report = parse_report(data)
    scope = _scope(request, principal)
    scope.check(scope.bank is None and scope.sees_unit(report.unit), f"unit {report.unit}")
    done = _funds(request).intake(report, principal.id)
    with suppress(OutOfScope):  # the pad is gone (a restart): the report is taken all the same
        _pads(request).confirm(pad_id, principal.id, done.case.case_id)
    return done.case.case_id


@router.post("/desk/cases")
async def desk_confirm(
    request: Request, principal: User, pad: Annotated[str, Form(max_length=64)]
) -> Response:
    """Confirm the report: open its case (once per form), learn its indicators, and send a
    stop-payment for every payee at once."""
    principal.require(Permission.CASES_WRITE)
    draft = desk.draft_of(await request.form())
    try:
        case_id = await run_in_threadpool(_confirm, request, principal, draft, pad)
    except ReportError as exc:
        context = await run_in_threadpool(_desk_context, request, principal, draft, pad)
        problems = [f"{where}: {why}" for where, why in exc.problems]
        return page(request, "desk.html", {**context, "problems": problems}, 422)
    return RedirectResponse(f"/desk/cases/{case_id}", status_code=303)


# ---------------------------------------------------------------------- the mirror screen


@router.get("/desk/mirror/{pad_id}")
async def mirror_page(request: Request, principal: User, pad_id: str) -> Response:
    """The victim's screen: read-only, large type, only the payments and the loss."""
    principal.require(Permission.CASES_WRITE)
    found = _pads(request).get(pad_id, principal.id)
    return page(request, "mirror.html", {"pad": found, **desk.mirror_rows(found.draft)})


@router.get("/desk/mirror/{pad_id}/view")
async def mirror_view(request: Request, principal: User, pad_id: str, v: int = -1) -> Response:
    """The mirror's content when it changed since version ``v`` (204: unchanged)."""
    principal.require(Permission.CASES_WRITE)
    found = _pads(request).get(pad_id, principal.id)
    if found.version == v:
        return Response(status_code=204)
    return page(request, "_mirror_view.html", {"pad": found, **desk.mirror_rows(found.draft)})


# ---------------------------------------------------------------------- a case and its orders


def _orders_context(request: Request, principal: Principal, case_id: str) -> dict[str, Any]:
    funds, scope = _funds(request), _scope(request, principal)
    case = funds.case(case_id, scope)
    orders = funds.orders(scope, case_id=case_id)
    tz, lang = _tz(request), lang_of(request)
    return {
        "case": desk.case_view(case, tz, lang),
        "orders": [desk.order_view(o, tz, lang) for o in orders],
        "proposals": desk.proposals(case, {o.account for o in orders}),
        "can_write": principal.can(Permission.CASES_WRITE),
        "can_trace": principal.can(Permission.TRACE_READ),
    }


@router.get("/desk/cases/{case_id}")
async def case_page(request: Request, principal: User, case_id: str) -> Response:
    """A case: the report (masked), its payees, its orders (live) and the proposals."""
    principal.require(Permission.CASES_READ)
    context = await run_in_threadpool(_orders_context, request, principal, case_id)
    return page(request, "case.html", context)


@router.get("/desk/cases/{case_id}/orders")
async def case_orders(request: Request, principal: User, case_id: str) -> Response:
    """The orders and proposals alone (HTMX refreshes them while banks answer)."""
    principal.require(Permission.CASES_READ)
    context = await run_in_threadpool(_orders_context, request, principal, case_id)
    return page(request, "_case_orders.html", context)


async def _act(request: Request, principal: Principal, case_id: str, work: Any) -> Response:
    """Run an officer's action; the orders again (HTMX) or back to the case page."""
    principal.require(Permission.CASES_WRITE)
    error = ""
    try:
        await run_in_threadpool(work, _scope(request, principal))
    except OrderRefused as exc:
        error = str(exc)
    if request.headers.get("hx-request"):
        context = await run_in_threadpool(_orders_context, request, principal, case_id)
        return page(
            request, "_case_orders.html", {**context, "error": error}, 409 if error else 200
        )
    return RedirectResponse(f"/desk/cases/{case_id}", status_code=303)


@router.post("/desk/cases/{case_id}/extend")
async def case_extend(request: Request, principal: User, case_id: str) -> Response:
    """延伸止付 now: follow the money and order (or propose) every account still holding it."""
    funds = _funds(request)
    return await _act(request, principal, case_id, lambda s: funds.extend(case_id, principal.id, s))


@router.post("/desk/cases/{case_id}/accept")
async def case_accept(
    request: Request, principal: User, case_id: str, key: Annotated[str, Form(max_length=64)]
) -> Response:
    """One click on a proposal: its stop-payment is placed and sent."""
    funds = _funds(request)

    def work(scope: Scope) -> None:
        account = desk.proposal_account(funds.case(case_id, scope), key)
        if account is None:
            raise OutOfScope(f"proposal {key}")
        funds.accept(case_id, account, principal.id, scope)

    return await _act(request, principal, case_id, work)


def _order_of_case(funds: Funds, case_id: str, order_id: str, scope: Scope) -> None:
    if funds.order(order_id, scope).case_id != case_id:
        raise OutOfScope(f"order {order_id}")


@router.post("/desk/cases/{case_id}/orders/{order_id}/send")
async def order_send(request: Request, principal: User, case_id: str, order_id: str) -> Response:
    """Send a draft order to its bank."""
    funds = _funds(request)

    def work(scope: Scope) -> None:
        _order_of_case(funds, case_id, order_id, scope)
        funds.send(order_id, principal.id, scope)

    return await _act(request, principal, case_id, work)


@router.post("/desk/cases/{case_id}/orders/{order_id}/convert")
async def order_convert(request: Request, principal: User, case_id: str, order_id: str) -> Response:
    """Convert an executed stop-payment into a freeze (冻结) on the same money."""
    funds = _funds(request)

    def work(scope: Scope) -> None:
        _order_of_case(funds, case_id, order_id, scope)
        funds.convert(order_id, principal.id, "止付转冻结", scope)

    return await _act(request, principal, case_id, work)


# ---------------------------------------------------------------------- the trace view


def _tree(request: Request, principal: Principal, case_id: str) -> trace_view.Tree:
    funds, scope = _funds(request), _scope(request, principal)
    traces = funds.trace_case(case_id, scope)
    return trace_view.merge(traces, funds.orders(scope, case_id=case_id))


@router.get("/desk/cases/{case_id}/trace")
async def trace_page(request: Request, principal: User, case_id: str) -> Response:
    """The case's money tree, layer by layer (the chart, and the table under it)."""
    principal.require(Permission.TRACE_READ)
    tree = await run_in_threadpool(_tree, request, principal, case_id)
    case = await run_in_threadpool(_funds(request).case, case_id, _scope(request, principal))
    lang = lang_of(request)
    return page(
        request,
        "trace.html",
        {
            "case": desk.case_view(case, _tz(request), lang),
            "rows": trace_view.rows(tree, lang),
            "layers": len(tree.layers()),
        },
    )


@router.get("/desk/cases/{case_id}/trace/chart")
async def trace_chart(request: Request, principal: User, case_id: str) -> Response:
    """The money tree as an ECharts option."""
    principal.require(Permission.TRACE_READ)
    tree = await run_in_threadpool(_tree, request, principal, case_id)
    return JSONResponse(trace_view.chart(tree, lang_of(request)))
