"""Login, logout, the caller, the unit switcher, password change, reveals and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fanzha.api.auth import (
    CSRF_FIELD,
    check_login_csrf,
    clear_session_cookie,
    client_ip,
    current_principal,
    issue_login_csrf,
    require,
    security_of,
    set_session_cookie,
    settings_of,
)
from fanzha.auth import Permission, Principal, PrincipalKind
from fanzha.auth.audit import verify
from fanzha.auth.masking import RevealRefused
from fanzha.auth.service import LoginFailed, LoginThrottled, PolicyError

router = APIRouter(prefix="/api/v1", tags=["auth"])


class Credentials(BaseModel):
    """Username and password (JSON body, or the same names as form fields)."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RevealRequest(BaseModel):
    """Which identifier of which object to show, and why (the reason is audited)."""

    object_type: str = Field(min_length=1, max_length=64, examples=["instruction"])
    object_id: str = Field(min_length=1, max_length=128)
    field: str = Field(min_length=1, max_length=64, examples=["phone"])
    reason: str = Field(max_length=500, examples=["回访核实身份"])


class PasswordChange(BaseModel):
    """The current password and the new one."""

    current: str = Field(min_length=1, max_length=1024)
    new: str = Field(min_length=1, max_length=1024)


def describe(principal: Principal, request: Request) -> dict[str, Any]:
    """The caller as the pages need it: name, active grant, all grants, permissions."""
    lang = settings_of(request).lang
    return {
        "id": principal.id,
        "name": principal.name,
        "display_name": principal.display_name,
        "kind": principal.kind.value,
        "active": principal.active,
        "role": principal.role.value,
        "role_label": principal.role.label(lang),
        "unit": principal.unit,
        "bank": principal.grant.bank,
        "grants": [
            {"index": i, "role": g.role.value, "label": g.role.label(lang), "unit": g.unit}
            for i, g in enumerate(principal.grants)
        ],
        "permissions": sorted(p.value for p in principal.permissions),
        "csrf_token": getattr(request.state, "csrf_token", None),
    }


async def _credentials(request: Request) -> Credentials:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        data: Any = await request.json()
    else:
        form = await request.form()
        data = {k: v for k, v in form.items() if k != CSRF_FIELD and isinstance(v, str)}
    try:
        return Credentials.model_validate(data)
    except ValueError:
        raise HTTPException(422, "username and password are needed") from None


@router.get("/auth/csrf")
def login_csrf(request: Request, response: Response) -> dict[str, str]:
    """A CSRF token for the login form (also set as a cookie: both must come back)."""
    return {"csrf_token": issue_login_csrf(response, request)}


@router.post("/auth/login", dependencies=[Depends(check_login_csrf)])
async def login(request: Request, response: Response) -> dict[str, Any]:
    """Log in (rate-limited per username and per address); sets the session cookie."""
    creds = await _credentials(request)
    security = security_of(request)
    try:
        done = await run_in_threadpool(
            security.login, creds.username, creds.password, client_ip(request)
        )
    except LoginThrottled:
        window = int(security.config.limits.window.total_seconds())
        raise HTTPException(
            429, "too many failed logins; try again later", headers={"Retry-After": str(window)}
        ) from None
    except LoginFailed:
        raise HTTPException(401, "wrong username or password") from None
    set_session_cookie(response, request, done.cookie)
    request.state.csrf_token = done.session.csrf_token
    return describe(done.principal, request)


@router.post("/auth/logout")
async def logout(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(current_principal)],
) -> dict[str, str]:
    """End the session and clear its cookie."""
    await run_in_threadpool(security_of(request).logout, principal)
    clear_session_cookie(response, request)
    return {"status": "logged out"}


@router.get("/auth/me")
def me(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> dict[str, Any]:
    """The caller: grants, active unit, permissions and the session's CSRF token."""
    return describe(principal, request)


@router.post("/auth/unit/{index}")
def switch_unit(
    index: int, request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> dict[str, Any]:
    """Act through another of the user's grants (the unit switcher)."""
    switched = security_of(request).switch_unit(principal, index)
    request.state.principal = switched
    return describe(switched, request)


@router.post("/auth/password")
def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(current_principal)],
) -> dict[str, str]:
    """Change one's own password (all sessions end: log in again)."""
    security = security_of(request)
    user = security.users.get(principal.name) if principal.kind is PrincipalKind.USER else None
    if user is None or not security.passwords.verify(user.password_hash, body.current):
        raise HTTPException(403, "the current password is wrong")
    try:
        security.set_password(principal.name, body.new, principal)
    except PolicyError as exc:
        raise HTTPException(422, exc.problems) from None
    clear_session_cookie(response, request)
    return {"status": "password changed; log in again"}


@router.post("/reveal")
def reveal(
    body: RevealRequest,
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.PII_REVEAL))],
) -> dict[str, Any]:
    """Show one masked identifier of an object in the caller's jurisdiction; audited with the
    reason. Objects outside the jurisdiction answer 404, like ids that do not exist."""
    security = security_of(request)
    try:
        kind, value = security.reveal(
            principal, body.object_type, body.object_id, body.field, body.reason
        )
    except RevealRefused as exc:
        raise HTTPException(422, str(exc)) from None
    return {**body.model_dump(exclude={"reason"}), "kind": kind.value, "value": value}


@router.get("/audit")
def audit_list(
    request: Request,
    _principal: Annotated[Principal, Depends(require(Permission.AUDIT_READ))],
    limit: int = 50,
    actor: str | None = None,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """The newest audit entries first."""
    entries = security_of(request).audit.latest(min(limit, 1000), actor=actor, action=action)
    return [e.model_dump(mode="json") for e in entries]


@router.get("/audit/verify")
def audit_verify(
    request: Request,
    _principal: Annotated[Principal, Depends(require(Permission.AUDIT_READ))],
) -> dict[str, Any]:
    """Walk the whole chain: whether it holds, its head hash, the first broken entry."""
    result = verify(security_of(request).audit.entries())
    broken = result.broken.to_json() if result.broken else None
    return {"ok": result.ok, "checked": result.checked, "head": result.head, "broken": broken}
