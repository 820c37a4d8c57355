"""The command centre's pages: server-rendered Jinja2, HTMX for partial updates, SSE for live.

Routes here are thin like the API's: they read the caller (the session cookie; CSRF is checked
for every POST by :func:`fanzha.api.auth.optional_principal`), call the services, and render.
Jurisdiction is the services': another unit's instruction is the 404 page, as in the API.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi import Query as Param
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from fanzha.api.auth import (
    check_login_csrf,
    clear_session_cookie,
    client_ip,
    issue_login_csrf,
    optional_principal,
    security_of,
    set_session_cookie,
    settings_of,
)
from fanzha.api.instructions import detail as present_detail
from fanzha.api.instructions import refusal, summary
from fanzha.auth import Forbidden, OutOfScope, Permission, Principal
from fanzha.auth.masking import RevealRefused
from fanzha.auth.service import LoginFailed, LoginThrottled
from fanzha.dispatch.instruction import State
from fanzha.dispatch.levels import Channel, RiskLevel
from fanzha.dispatch.outcome import (
    ContactAttempt,
    Contacted,
    Judgement,
    NotReachedReason,
)
from fanzha.instructing import InstructionService, Query
from fanzha.model.enums import FraudType
from fanzha.store.views import MAX_PAGE
from fanzha.web import dashboard as dash
from fanzha.web import knowledge
from fanzha.web.labels import label

HERE = Path(__file__).parent
LANG_COOKIE = "fanzha_lang"
VENDOR = {
    "htmx.min.js": ("htmx.org", "dist/htmx.min.js"),
    "echarts.min.js": ("echarts", "dist/echarts.min.js"),
}
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """A page asked for without a session: go to the login page."""


# ---------------------------------------------------------------------- installing


def node_modules(settings: Any) -> Path:
    """Where ``make setup`` installed the front-end packages (FANZHA_NODE_MODULES)."""
    configured = getattr(settings, "node_modules", None)
    return Path(configured) if configured else HERE.parent.parent / "node_modules"


def install(api: FastAPI, settings: Any) -> None:
    """Add the pages, the static files and the HTML error pages to ``api``."""
    api.mount("/static/app", StaticFiles(directory=HERE / "static"), name="static-app")
    modules = node_modules(settings)

    @api.get("/static/vendor/{name}", include_in_schema=False)
    def vendor(name: str) -> Response:
        """HTMX and ECharts from node_modules (installed at setup, never fetched at run time)."""
        from fastapi.responses import FileResponse

        if name not in VENDOR:
            return Response(status_code=404)
        package, path = VENDOR[name]
        file = modules / package / path
        if not file.is_file():
            return Response(f"/* {package} is missing: run make setup */", 404)
        return FileResponse(file, media_type="text/javascript")

    from fanzha.funding import UnknownError
    from fanzha.web import funds_pages

    api.state.pads = funds_pages.Pads()
    api.include_router(router)
    api.include_router(funds_pages.router)
    api.add_exception_handler(LoginRequired, _to_login)
    api.add_exception_handler(UnknownError, _not_found)
    api.add_exception_handler(OutOfScope, _not_found)
    api.add_exception_handler(Forbidden, _forbidden)


async def _to_login(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def _not_found(request: Request, _exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        # The same answer as for an id that does not exist: ids cannot be probed.
        return JSONResponse({"detail": "not found"}, status_code=404)
    return page(request, "error.html", {"title": "not_found", "text": "not_found_text"}, 404)


async def _forbidden(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": str(exc) or "forbidden"}, status_code=403)
    return page(request, "error.html", {"title": "forbidden", "text": "forbidden"}, 403)


# ---------------------------------------------------------------------- rendering


def lang_of(request: Request) -> str:
    """The page language: the user's choice (cookie), else the setting."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in ("zh-CN", "en") else settings_of(request).lang


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render a template with what every page needs (user, language, CSRF, units)."""
    lang = lang_of(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    tree = request.app.state.fz.security.tree
    base = {
        "lang": lang,
        "en": lang.startswith("en"),
        "t": lambda key: label(key, lang),
        "principal": principal,
        "csrf": getattr(request.state, "csrf_token", ""),
        "csrf_headers": json.dumps({"X-CSRF-Token": getattr(request.state, "csrf_token", "")}),
        "unit_name": lambda code: _unit_name(tree, code, lang),
        "Permission": Permission,
        "fmt_time": lambda at: _fmt_time(request, at),
        "path": request.url.path,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def _unit_name(tree: Any, code: str | None, lang: str) -> str:
    from fanzha.api.instructions import unit_name

    return "" if code is None else unit_name(tree, code, lang)


def _fmt_time(request: Request, at: dt.datetime | None) -> str:
    if at is None:
        return ""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(str(settings_of(request).timezone))
    return at.astimezone(tz).strftime("%m-%d %H:%M:%S")


async def signed_in(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller of a page (to the login page without a session)."""
    if principal is None:
        raise LoginRequired
    return principal


User = Annotated[Principal, Depends(signed_in)]


def service(request: Request) -> InstructionService:
    """The instruction service."""
    svc: InstructionService = request.app.state.fz.instruction_service
    return svc


# ---------------------------------------------------------------------- login, units, language


@router.get("/")
async def home(principal: User) -> Response:
    """The dashboard for those who may see it, else the unit's queue."""
    if principal.can(Permission.DASHBOARD_READ):
        return RedirectResponse("/dashboard", status_code=303)
    return RedirectResponse("/queue", status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str = "/", error: str = "") -> Response:
    """The login form (with its CSRF token)."""
    holder = HTMLResponse("")
    token = issue_login_csrf(holder, request)
    response = page(
        request, "login.html", {"login_csrf": token, "next": _safe(next), "error": error}
    )
    for key, value in holder.headers.items():
        if key == "set-cookie":
            response.headers.append(key, value)
    return response


def _safe(target: str) -> str:
    """Only paths of this site (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login", dependencies=[Depends(check_login_csrf)])
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password (rate-limited) and start a session."""
    security = security_of(request)
    try:
        done = await run_in_threadpool(security.login, username, password, client_ip(request))
    except LoginThrottled:
        return RedirectResponse("/login?error=login_throttled", status_code=303)
    except LoginFailed:
        return RedirectResponse("/login?error=login_failed", status_code=303)
    response = RedirectResponse(_safe(next), status_code=303)
    set_session_cookie(response, request, done.cookie)
    return response


@router.post("/logout")
async def logout(request: Request, principal: User) -> Response:
    """End the session."""
    await run_in_threadpool(security_of(request).logout, principal)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.post("/unit")
async def switch_unit(
    request: Request, principal: User, index: Annotated[int, Form(ge=0)]
) -> Response:
    """Act through another of the user's grants."""
    await run_in_threadpool(security_of(request).switch_unit, principal, index)
    return RedirectResponse("/", status_code=303)


@router.get("/lang/{lang}")
async def choose_language(request: Request, lang: str) -> Response:
    """Remember the user's language (a preference cookie, nothing else changes)."""
    back = _safe(
        request.headers.get("referer", "/").split(str(request.base_url).rstrip("/"), 1)[-1]
    )
    response = RedirectResponse(back, status_code=303)
    if lang in ("zh-CN", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


# ---------------------------------------------------------------------- dashboard


def _dashboard_units(request: Request, principal: Principal, unit: str | None) -> Any:
    principal.require(Permission.DASHBOARD_READ)
    return service(request).units_below(principal, unit)


def _today(fz: Any, units: frozenset[str] | None) -> tuple[Any, Any]:
    """Today's instruction figures and funds figures (one trip to the worker threads)."""
    return dash.today(fz, units), dash.funds(fz, units)


@router.get("/dashboard")
async def dashboard(request: Request, principal: User, unit: str | None = None) -> Response:
    """The city (or district) dashboard: tiles, charts, heat grid, live over SSE."""
    units = await run_in_threadpool(_dashboard_units, request, principal, unit)
    fz = request.app.state.fz
    figures, money = await run_in_threadpool(_today, fz, units)
    months = await run_in_threadpool(dash.month_totals, fz, units)
    lang = lang_of(request)
    here = unit or principal.unit or ""
    return page(
        request,
        "dashboard.html",
        {
            "tiles": dash.tiles(figures, lang, money),
            "grid": dash.grid(fz.security.tree, figures, units, lang),
            "trends": dash.trends(months, lang),
            "unit": here,
            "query": urlencode({"unit": unit} if unit else {}),
        },
    )


@router.get("/dashboard/live")
async def dashboard_live(request: Request, principal: User, unit: str | None = None) -> Response:
    """The tiles and the grid again (HTMX swaps them on every event)."""
    units = await run_in_threadpool(_dashboard_units, request, principal, unit)
    fz = request.app.state.fz
    figures, money = await run_in_threadpool(_today, fz, units)
    lang = lang_of(request)
    return page(
        request,
        "_dashboard_live.html",
        {
            "tiles": dash.tiles(figures, lang, money),
            "grid": dash.grid(fz.security.tree, figures, units, lang),
        },
    )


@router.get("/dashboard/charts/{name}")
async def dashboard_chart(
    request: Request, principal: User, name: str, unit: str | None = None
) -> Response:
    """An ECharts option object (the page's script only draws it)."""
    units = await run_in_threadpool(_dashboard_units, request, principal, unit)
    fz = request.app.state.fz
    lang = lang_of(request)
    if name == "history":
        return JSONResponse(await run_in_threadpool(dash.history_chart, fz, lang))
    if name == "fraud":
        counts = await run_in_threadpool(dash.today_by_fraud_type, fz, units)
        return JSONResponse(dash.fraud_chart(counts, lang))
    raise OutOfScope(name)


# ---------------------------------------------------------------------- queue


PAGE_SIZE = 50  # rows of the queue per page (``size`` asks for others, up to MAX_PAGE)


def _query(
    unit: str | None,
    level: str | None,
    state: str | None,
    overdue: str | None,
    page_no: int = 1,
    size: int = PAGE_SIZE,
) -> Query:
    levels = [int(level)] if level and level.isdigit() and 1 <= int(level) <= 4 else None
    states = [State(state)] if state in {s.value for s in State} else None
    size = max(1, min(size, MAX_PAGE))
    offset = (max(1, page_no) - 1) * size
    return Query(unit or None, levels, states, overdue == "1", limit=size, offset=offset)


def _rows_context(request: Request, principal: Principal, query: Query) -> dict[str, Any]:
    page_ = service(request).find(principal, query)
    tree = request.app.state.fz.security.tree
    lang = lang_of(request)
    size = max(1, query.limit)
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "size")}
    return {
        "rows": [summary(i, tree, lang, page_.now) for i in page_.items],
        "total": page_.total,
        "can_act": principal.can(Permission.INSTRUCTIONS_ACT),
        "page_no": query.offset // size + 1,
        "pages": max(1, -(-page_.total // size)),
        "pager": urlencode({**params, "size": size}),
    }


@router.get("/queue")
async def queue(
    request: Request,
    principal: User,
    unit: str | None = None,
    level: str | None = None,
    state: str | None = None,
    overdue: str | None = None,
    page_no: Annotated[int, Param(alias="page")] = 1,
    size: int = PAGE_SIZE,
) -> Response:
    """The instruction queue of a unit (and the units below it)."""
    query = _query(unit, level, state, overdue, page_no, size)
    rows = await run_in_threadpool(_rows_context, request, principal, query)
    here = unit or principal.unit or ""
    filters = {
        "unit": unit or "",
        "level": level or "",
        "state": state or "",
        "overdue": overdue or "",
    }
    return page(
        request,
        "queue.html",
        {
            **rows,
            "unit": here,
            "filters": filters,
            "levels": sorted(RiskLevel, reverse=True),
            "states": list(State),
        },
    )


@router.get("/queue/rows")
async def queue_rows(
    request: Request,
    principal: User,
    unit: str | None = None,
    level: str | None = None,
    state: str | None = None,
    overdue: str | None = None,
    page_no: Annotated[int, Param(alias="page")] = 1,
    size: int = PAGE_SIZE,
) -> Response:
    """The queue's rows alone (HTMX: filters and live refresh)."""
    query = _query(unit, level, state, overdue, page_no, size)
    rows = await run_in_threadpool(_rows_context, request, principal, query)
    return page(request, "_queue_rows.html", rows)


# ---------------------------------------------------------------------- one instruction


def _detail_context(request: Request, principal: Principal, instruction_id: str) -> dict[str, Any]:
    found = service(request).detail(principal, instruction_id)
    lang = lang_of(request)
    shown = present_detail(found, request.app.state.fz.security.tree, lang)
    return {
        "ins": shown,
        "can_act": principal.can(Permission.INSTRUCTIONS_ACT),
        "can_dispatch": principal.can(Permission.INSTRUCTIONS_DISPATCH),
        "can_reveal": principal.can(Permission.PII_REVEAL),
        "channels": list(Channel),
        "reasons": list(NotReachedReason),
        "contacted": list(Contacted),
        "judgements": list(Judgement),
        "fraud_types": list(FraudType),
    }


@router.get("/instructions/{instruction_id}")
async def instruction_page(request: Request, principal: User, instruction_id: str) -> Response:
    """One instruction: person (masked), why, evidence, contact and outcome forms, history."""
    context = await run_in_threadpool(_detail_context, request, principal, instruction_id)
    return page(request, "instruction.html", context)


async def _act(
    request: Request, principal: Principal, instruction_id: str, fn: Any, *args: Any
) -> Response:
    """Run an action; back to the page, or the page with the refusal shown."""
    lang = lang_of(request)
    try:
        await run_in_threadpool(fn, principal, instruction_id, *args)
    except Exception as exc:
        error = refusal(exc, lang)
        context = await run_in_threadpool(_detail_context, request, principal, instruction_id)
        detail = error.detail
        if isinstance(detail, list):
            detail = "; ".join(
                f"{p['field']}: {p['en' if lang.startswith('en') else 'zh']}" for p in detail
            )
        return page(
            request, "instruction.html", {**context, "error": str(detail)}, error.status_code
        )
    if request.headers.get("hx-request") and request.headers.get("hx-target", "").startswith(
        "row-"
    ):
        rows = await run_in_threadpool(_one_row, request, principal, instruction_id)
        return page(request, "_queue_row.html", rows)
    return RedirectResponse(f"/instructions/{instruction_id}", status_code=303)


def _one_row(request: Request, principal: Principal, instruction_id: str) -> dict[str, Any]:
    ins = service(request).get(principal, instruction_id)
    now = request.app.state.fz.clock.now()
    return {
        "r": summary(ins, request.app.state.fz.security.tree, lang_of(request), now),
        "can_act": principal.can(Permission.INSTRUCTIONS_ACT),
    }


@router.post("/instructions/{instruction_id}/sign")
async def sign(request: Request, principal: User, instruction_id: str) -> Response:
    """签收 (from the queue: the row is swapped; from the page: back to it)."""
    return await _act(request, principal, instruction_id, service(request).sign)


@router.post("/instructions/{instruction_id}/attempt")
async def attempt(
    request: Request,
    principal: User,
    instruction_id: str,
    channel: Annotated[Channel, Form()],
    reached: Annotated[str, Form()] = "0",
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A call, SMS or visit."""
    try:
        made = ContactAttempt(
            channel=channel,
            reached=reached == "1",
            reason=NotReachedReason(reason) if reason and reached != "1" else None,
            note=note,
        )
    except ValueError as exc:
        context = await run_in_threadpool(_detail_context, request, principal, instruction_id)
        return page(
            request, "instruction.html", {**context, "error": str(exc).splitlines()[-1]}, 422
        )
    return await _act(request, principal, instruction_id, service(request).record_attempt, made)


def outcome_from_form(form: Any) -> dict[str, Any]:
    """The outcome's fields from the form (yuan → fen; empty fields left out)."""
    data: dict[str, Any] = {"reached": form.get("reached") == "1"}
    for key in ("not_reached_reason", "contacted", "judgement", "fraud_type", "sms_template"):
        value = form.get(key)
        if value:
            data[key] = value
    for key in ("defrauded", "dissuaded", "home_visit", "notice_signed"):
        data[key] = form.get(key) == "1"
    for key in ("amount_at_risk", "amount_saved", "amount_lost"):
        data[f"{key}_fen"] = _fen(form.get(key))
    data["note"] = str(form.get("note") or "")
    account = str(form.get("payee_account") or "").strip()
    if account:
        payee: dict[str, Any] = {"account": account, "amount_fen": _fen(form.get("payee_amount"))}
        if form.get("payee_bank"):
            payee["bank"] = str(form.get("payee_bank"))
        data["payees"] = [payee]
    return data


def _fen(value: Any) -> int | str:
    text = str(value or "").strip().replace(",", "")
    if not text:
        return 0
    try:
        return round(float(text) * 100)
    except ValueError:
        return text  # the outcome's validation names the field


@router.post("/instructions/{instruction_id}/outcome")
async def outcome(request: Request, principal: User, instruction_id: str) -> Response:
    """The structured outcome; every problem is shown at once."""
    form = await request.form()
    data = outcome_from_form(form)
    return await _act(request, principal, instruction_id, service(request).record_outcome, data)


@router.post("/instructions/{instruction_id}/close")
async def close(request: Request, principal: User, instruction_id: str) -> Response:
    """办结."""
    return await _act(request, principal, instruction_id, service(request).close)


@router.post("/instructions/{instruction_id}/transfer")
async def transfer(
    request: Request,
    principal: User,
    instruction_id: str,
    unit: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """转办."""
    return await _act(request, principal, instruction_id, service(request).transfer, unit, reason)


@router.post("/instructions/{instruction_id}/escalate")
async def escalate(
    request: Request,
    principal: User,
    instruction_id: str,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Send it up one tier."""
    return await _act(request, principal, instruction_id, service(request).escalate, reason)


@router.post("/instructions/{instruction_id}/reveal")
async def reveal(
    request: Request,
    principal: User,
    instruction_id: str,
    field: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Show one identifier (HTMX swaps the masked value); the reason is audited."""
    security = security_of(request)
    try:
        _, value = await run_in_threadpool(
            security.reveal, principal, "instruction", instruction_id, field, reason
        )
    except RevealRefused as exc:
        return HTMLResponse(f'<span class="error">{_escape(str(exc))}</span>', 422)
    return HTMLResponse(f'<span class="revealed">{_escape(value or "")}</span>')


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


# ---------------------------------------------------------------------- intel and rules


@router.get("/intel")
async def intel_page(
    request: Request, principal: User, kind: str = "phone", value: str = "", saved: str = ""
) -> Response:
    """Search an indicator: is it flagged, by whom, why, and its changes."""
    principal.require(Permission.INTEL_READ)
    found = await run_in_threadpool(knowledge.lookup, request.app.state.fz, kind, value)
    return page(
        request,
        "intel.html",
        {
            "found": found,
            "kind": kind,
            "value": value,
            "kinds": knowledge.KINDS,
            "verdicts": knowledge.VERDICTS,
            "saved": saved,
            "can_write": principal.can(Permission.INTEL_WRITE),
        },
    )


@router.post("/intel")
async def intel_add(
    request: Request,
    principal: User,
    kind: Annotated[str, Form(max_length=16)],
    value: Annotated[str, Form(max_length=2048)],
    verdict: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Add an indicator or allow-list one, with a reason (kept in its audit trail)."""
    principal.require(Permission.INTEL_WRITE)
    fz = request.app.state.fz
    try:
        stored = await run_in_threadpool(knowledge.add, fz, principal, kind, value, verdict, reason)
    except ValueError as exc:
        found = await run_in_threadpool(knowledge.lookup, fz, kind, value)
        context = {
            "found": found,
            "kind": kind,
            "value": value,
            "kinds": knowledge.KINDS,
            "verdicts": knowledge.VERDICTS,
            "saved": "",
            "error": str(exc),
            "can_write": True,
        }
        return page(request, "intel.html", context, 422)
    query = urlencode({"kind": kind, "value": stored, "saved": "1"})
    return RedirectResponse(f"/intel?{query}", status_code=303)


@router.get("/rules")
async def rules_page(request: Request, principal: User) -> Response:
    """Rules with their docstrings, versions and shadow results."""
    principal.require(Permission.RULES_READ)
    rows = await run_in_threadpool(knowledge.rules, request.app.state.fz, lang_of(request))
    return page(request, "rules.html", {"rules": rows})
