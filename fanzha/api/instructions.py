"""The instruction API: list, filter, read, sign, contact, outcome, close, transfer, escalate.

Thin: every route calls :class:`fanzha.instructing.InstructionService`, which narrows lists
to the caller's jurisdiction and answers 404 for another unit's instruction. Personal
identifiers are masked (``POST /api/v1/reveal`` shows one, with a reason, audited).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fanzha.api.auth import require, settings_of
from fanzha.auth import OutOfScope, Permission, Principal
from fanzha.auth.masking import PiiKind, mask, mask_id_number
from fanzha.detect.rules import BY_ID as RULES_BY_ID
from fanzha.dispatch.effects import CaseRequest
from fanzha.dispatch.instruction import (
    Attempt,
    Deadlines,
    Evidence,
    HistoryEntry,
    Instruction,
    State,
    TransitionError,
)
from fanzha.dispatch.levels import RiskLevel
from fanzha.dispatch.org import OrgTree
from fanzha.dispatch.outcome import ContactAttempt, Outcome, OutcomeError
from fanzha.instructing import (
    Detail,
    InstructionService,
    NoOrgTreeError,
    UnknownUnitError,
)
from fanzha.instructing import (
    Query as ListQuery,
)
from fanzha.model.enums import FraudType

router = APIRouter(prefix="/api/v1", tags=["instructions"])

Level = Annotated[int, Field(ge=1, le=4)]
Reader = Annotated[Principal, Depends(require(Permission.INSTRUCTIONS_READ))]
Actor = Annotated[Principal, Depends(require(Permission.INSTRUCTIONS_ACT))]
DispatcherRole = Annotated[Principal, Depends(require(Permission.INSTRUCTIONS_DISPATCH))]


def service_of(request: Request) -> InstructionService:
    """The running app's instruction service."""
    service: InstructionService = request.app.state.fz.instruction_service
    return service


def is_en(lang: str) -> bool:
    """Whether ``lang`` asks for English (else zh-CN)."""
    return lang.lower().startswith("en")


# ---------------------------------------------------------------------- response models


class Summary(BaseModel):
    """An instruction in a list: masked person, level, state, unit, SLA."""

    instruction_id: str
    warning_id: str
    level: int = Field(ge=1, le=4)
    level_label: str
    colour: str
    state: State
    state_label: str
    unit: str
    unit_name: str
    copy_to: tuple[str, ...]
    phone: str | None = Field(description="Masked (138****1234).")
    id_number: str | None = Field(description="Masked.")
    fraud_type: FraudType | None
    fraud_type_label: str | None
    score: float
    channels: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    next_due: dt.datetime | None
    overdue: bool
    escalations: int
    assignee: str | None


class TimelineItem(BaseModel):
    """One piece of evidence: when, which rule and why, the value, the indicator's source."""

    at: dt.datetime | None
    rule: str
    title: str
    why: str
    value: str
    indicator: str
    fraud_type: str


class InstructionDetail(Summary):
    """One instruction with its explanation, evidence timeline, contact, outcome, history."""

    explanation: str
    explanation_zh: str
    explanation_en: str
    route_reason: str
    deadlines: Deadlines
    timeline: list[TimelineItem]
    attempts: list[Attempt]
    outcome: Outcome | None
    history: list[HistoryEntry]
    version: int


class InstructionPage(BaseModel):
    """A page of instructions, the total matching, and the server's time."""

    items: list[Summary]
    total: int
    limit: int
    offset: int
    now: dt.datetime


class OutcomeRecorded(BaseModel):
    """The instruction after its outcome, and what the outcome sets in motion."""

    instruction: InstructionDetail
    case_requested: bool = Field(description="Already defrauded: a case for the funds desk.")
    indicator_feedback: int = Field(description="Indicators whose confidence is to change.")


class TransferRequest(BaseModel):
    """转办: the unit to hand the instruction to, and why."""

    unit: str = Field(min_length=1, max_length=32)
    reason: str = Field(default="", max_length=500)


class EscalateRequest(BaseModel):
    """Send up one tier now, and why."""

    reason: str = Field(default="", max_length=500)


# ---------------------------------------------------------------------- presenting


def unit_name(tree: OrgTree | None, code: str, lang: str) -> str:
    """A unit's name in ``lang`` (its code when unknown)."""
    unit = tree.get(code) if tree is not None else None
    if unit is None:
        return code
    return (unit.name_en or unit.name) if is_en(lang) else unit.name


def summary(ins: Instruction, tree: OrgTree | None, lang: str, now: dt.datetime) -> Summary:
    """An instruction as a list shows it (masked)."""
    return Summary.model_validate(_summary_fields(ins, tree, lang, now))


def _summary_fields(
    ins: Instruction, tree: OrgTree | None, lang: str, now: dt.datetime
) -> dict[str, Any]:
    en = is_en(lang)
    level = RiskLevel(ins.level)
    due = ins.next_due()
    fraud = ins.fraud_type
    return {
        "instruction_id": ins.instruction_id,
        "warning_id": ins.warning_id,
        "level": int(level),
        "level_label": level.label_en if en else level.label_zh,
        "colour": level.colour,
        "state": ins.state,
        "state_label": ins.state.value.replace("_", " ") if en else ins.state.label_zh,
        "unit": ins.unit,
        "unit_name": unit_name(tree, ins.unit, lang),
        "copy_to": ins.copy_to,
        "phone": mask(PiiKind.PHONE, ins.phone) if ins.phone else None,
        "id_number": mask(PiiKind.ID_NUMBER, ins.id_number) if ins.id_number else None,
        "fraud_type": fraud,
        "fraud_type_label": None if fraud is None else (fraud.value if en else fraud.label_zh),
        "score": ins.score,
        "channels": [c.value for c in ins.channels],
        "created_at": ins.created_at,
        "updated_at": ins.updated_at,
        "next_due": due,
        "overdue": due is not None and due < now,
        "escalations": ins.escalations,
        "assignee": ins.assignee,
    }


def detail(found: Detail, tree: OrgTree | None, lang: str) -> InstructionDetail:
    """One instruction as its page shows it (masked)."""
    ins = found.instruction
    en = is_en(lang)
    return InstructionDetail.model_validate(
        {
            **_summary_fields(ins, tree, lang, found.now),
            "explanation": (found.explanation_en if en else found.explanation_zh) or "",
            "explanation_zh": found.explanation_zh,
            "explanation_en": found.explanation_en,
            "route_reason": ins.route_reason,
            "deadlines": ins.deadlines,
            "timeline": timeline(ins, found.signals, lang),
            "attempts": ins.attempts,
            "outcome": ins.outcome,
            "history": ins.history,
            "version": ins.version,
        }
    )


def timeline(ins: Instruction, signals: list[dict[str, Any]], lang: str) -> list[TimelineItem]:
    """The evidence behind the instruction and its warning, in time order, once each."""
    items: dict[tuple[str, str, str], Evidence] = {e.key: e for e in ins.evidence}
    for raw in signals:
        if raw.get("rule"):
            ev = Evidence.model_validate(raw)
            items.setdefault(ev.key, ev)
    own = {v for v in (ins.phone, ins.id_number) if v}
    out = [_item(e, own, lang) for e in items.values()]
    out.sort(key=lambda i: (i.at or dt.datetime.min.replace(tzinfo=dt.UTC), i.rule))
    return out


def _item(e: Evidence, own: set[str], lang: str) -> TimelineItem:
    rule = RULES_BY_ID.get(e.rule)
    title = e.rule if rule is None else (rule.title_en if is_en(lang) else rule.title_zh)
    # The person's own identifiers stay masked here too; counterparties (flagged numbers,
    # sites, accounts) are fraud infrastructure and shown as they are.
    value = mask_id_number(e.value) if e.value in own else e.value
    return TimelineItem(
        at=dt.datetime.fromtimestamp(e.at, dt.UTC) if e.at else None,
        rule=e.rule,
        title=title,
        why="" if rule is None else rule.doc,
        value=value,
        indicator=e.indicator,
        fraud_type=e.fraud_type,
    )


# ---------------------------------------------------------------------- errors


def refusal(exc: Exception, lang: str) -> HTTPException:
    """An action's refusal as an HTTP error: 409 for the state machine, 422 for input."""
    if isinstance(exc, TransitionError):
        return HTTPException(409, exc.reason if is_en(lang) else exc.reason_zh)
    if isinstance(exc, OutcomeError):
        problems = [{"field": p.field, "zh": p.zh, "en": p.en} for p in exc.problems]
        return HTTPException(422, problems)
    if isinstance(exc, UnknownUnitError):
        return HTTPException(422, str(exc))
    if isinstance(exc, NoOrgTreeError):
        return HTTPException(503, str(exc))
    raise exc


async def _run(request: Request, fn: Any, *args: Any) -> Any:
    lang = settings_of(request).lang
    try:
        return await run_in_threadpool(fn, *args)
    except (TransitionError, OutcomeError, UnknownUnitError, NoOrgTreeError) as exc:
        raise refusal(exc, lang) from None


async def _detail(request: Request, principal: Principal, instruction_id: str) -> InstructionDetail:
    service = service_of(request)
    found = await run_in_threadpool(service.detail, principal, instruction_id)
    return detail(found, request.app.state.fz.security.tree, settings_of(request).lang)


# ---------------------------------------------------------------------- routes


@router.get("/instructions", response_model=InstructionPage)
async def list_instructions(
    request: Request,
    principal: Reader,
    unit: Annotated[
        str | None, Query(max_length=32, description="A unit and all below it.")
    ] = None,
    level: Annotated[list[Level] | None, Query(description="Risk levels 1–4.")] = None,
    state: Annotated[list[State] | None, Query()] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> InstructionPage:
    """Instructions in the caller's jurisdiction, most urgent first (level, then newest)."""
    query = ListQuery(unit, level, state, overdue, limit, offset)
    page = await run_in_threadpool(service_of(request).find, principal, query)
    tree = request.app.state.fz.security.tree
    lang = settings_of(request).lang
    items = [summary(i, tree, lang, page.now) for i in page.items]
    return InstructionPage(items=items, total=page.total, limit=limit, offset=offset, now=page.now)


@router.get("/kpi")
async def dispatch_kpis(
    request: Request,
    principal: Reader,
    unit: Annotated[
        str | None, Query(max_length=32, description="A unit and all below it.")
    ] = None,
    since: Annotated[
        dt.datetime | None, Query(description="Instructions created at or after (ISO 8601).")
    ] = None,
    until: Annotated[dt.datetime | None, Query(description="…and before (ISO 8601).")] = None,
) -> dict[str, Any]:
    """Dispatch KPIs per unit and level (time to sign, to first contact, on-time, reach,
    refusal, calls per dissuasion, dissuasion rate, money saved, overdue) in the caller's
    jurisdiction — the same figures as ``fanzha kpi --json``."""
    if since is not None and until is not None and since >= until:
        raise HTTPException(422, "until must be after since")
    table = await run_in_threadpool(service_of(request).kpis, principal, unit, since, until)
    return table.to_json()


@router.get("/instructions/{instruction_id}", response_model=InstructionDetail)
async def get_instruction(
    instruction_id: str, request: Request, principal: Reader
) -> InstructionDetail:
    """One instruction: masked person, explanation, evidence timeline, outcome, history."""
    return await _detail(request, principal, instruction_id)


@router.post("/instructions/{instruction_id}/sign", response_model=InstructionDetail)
async def sign(instruction_id: str, request: Request, principal: Actor) -> InstructionDetail:
    """签收 (only an issued instruction is signed; 409 otherwise, with the reason)."""
    await _run(request, service_of(request).sign, principal, instruction_id)
    return await _detail(request, principal, instruction_id)


@router.post("/instructions/{instruction_id}/attempts", response_model=InstructionDetail)
async def record_attempt(
    instruction_id: str, attempt: ContactAttempt, request: Request, principal: Actor
) -> InstructionDetail:
    """Record a call, SMS or visit, reached or not (with the reason when not)."""
    await _run(request, service_of(request).record_attempt, principal, instruction_id, attempt)
    return await _detail(request, principal, instruction_id)


@router.post(
    "/instructions/{instruction_id}/outcome",
    response_model=OutcomeRecorded,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outcome"}}},
        }
    },
    responses={422: {"description": "The problems, field by field, in zh and en."}},
)
async def record_outcome(
    instruction_id: str, request: Request, principal: Actor
) -> OutcomeRecorded:
    """Record the structured outcome (after a contact attempt). Every contradiction between
    fields is listed at once. Already defrauded requests a case; not fraud / confirmed
    changes the confidence of the indicators behind the warning."""
    try:
        data = await request.json()
    except ValueError:
        raise HTTPException(422, "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise HTTPException(422, "the body must be a JSON object")
    service = service_of(request)
    _, decisions = await _run(request, service.record_outcome, principal, instruction_id, data)
    return OutcomeRecorded(
        instruction=await _detail(request, principal, instruction_id),
        case_requested=any(isinstance(d, CaseRequest) for d in decisions),
        indicator_feedback=sum(1 for d in decisions if not isinstance(d, CaseRequest)),
    )


@router.post("/instructions/{instruction_id}/close", response_model=InstructionDetail)
async def close(instruction_id: str, request: Request, principal: Actor) -> InstructionDetail:
    """办结 (once the outcome is recorded)."""
    await _run(request, service_of(request).close, principal, instruction_id)
    return await _detail(request, principal, instruction_id)


@router.post("/instructions/{instruction_id}/transfer", response_model=InstructionDetail)
async def transfer(
    instruction_id: str, body: TransferRequest, request: Request, principal: DispatcherRole
) -> InstructionDetail | JSONResponse:
    """转办 to another unit in the caller's jurisdiction (it must be signed again there)."""
    service = service_of(request)
    await _run(request, service.transfer, principal, instruction_id, body.unit, body.reason)
    return await _detail_or_gone(request, principal, instruction_id)


@router.post("/instructions/{instruction_id}/escalate", response_model=InstructionDetail)
async def escalate(
    instruction_id: str, body: EscalateRequest, request: Request, principal: DispatcherRole
) -> InstructionDetail | JSONResponse:
    """Send it up one tier now (station → district → city)."""
    await _run(request, service_of(request).escalate, principal, instruction_id, body.reason)
    return await _detail_or_gone(request, principal, instruction_id)


async def _detail_or_gone(
    request: Request, principal: Principal, instruction_id: str
) -> InstructionDetail | JSONResponse:
    """After a handover the instruction may have left the caller's jurisdiction."""
    try:
        return await _detail(request, principal, instruction_id)
    except OutOfScope:
        return JSONResponse({"instruction_id": instruction_id, "status": "handed over"})
