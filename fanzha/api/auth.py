"""Who is calling, and may they: the dependencies every router uses, CSRF, cookies, headers.

- :func:`current_principal` — the caller from ``Authorization: Bearer <token>`` (API tokens,
  the bootstrap ingest token) or the session cookie; 401 without either. Cookie-authenticated
  requests that change something (POST, PUT, PATCH, DELETE) must carry the session's CSRF
  token, in the ``X-CSRF-Token`` header (HTMX: ``hx-headers``) or the ``csrf_token`` form
  field (a synchronizer token: it lives in the server-side session).
- :func:`require` — ``Depends(require(Permission.X))``: the caller, if their role allows X
  (403 otherwise). Routes declare their permission this way, and the access-matrix test reads
  it back from the routes (:func:`route_permissions`).
- Object-level jurisdiction is the service's: raise :class:`~fanzha.auth.OutOfScope` (404) for
  an object outside the caller's scope, :class:`~fanzha.auth.Forbidden` (403) for a refused
  action; :func:`install` maps both.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterator
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fanzha.auth import Forbidden, OutOfScope, Permission, Principal
from fanzha.auth.service import Security
from fanzha.settings import Settings

SESSION_COOKIE = "fanzha_session"
LOGIN_CSRF_COOKIE = "fanzha_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
PERMISSION_ATTR = "fanzha_permission"


def security_of(request: Request) -> Security:
    """The security service of the running app."""
    security: Security = request.app.state.fz.security
    return security


def settings_of(request: Request) -> Settings:
    """The settings of the running app."""
    settings: Settings = request.app.state.fz.settings
    return settings


def client_ip(request: Request) -> str:
    """The client's address as the server sees it (uvicorn ``--proxy-headers`` behind a proxy;
    a forwarded-for header is never read here, since a client can write anything in it)."""
    return request.client.host if request.client else ""


async def _sent_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in _FORMS:
        form = await request.form()  # Starlette keeps it: the endpoint can read it again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


async def check_csrf(request: Request, expected: str) -> None:
    """403 unless the request carries ``expected`` as its CSRF token."""
    if not _same(await _sent_csrf(request), expected):
        raise HTTPException(403, "missing or wrong CSRF token (X-CSRF-Token or csrf_token)")


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def optional_principal(request: Request) -> Principal | None:
    """The caller, or None when the request carries no valid credentials.

    Also sets ``request.state.principal`` and, for sessions, ``request.state.csrf_token``
    (templates put it in forms and in HTMX headers)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    security = security_of(request)
    bearer = _bearer(request)
    principal: Principal | None = None
    if bearer is not None:
        principal = await run_in_threadpool(security.token, bearer)
    elif (cookie := request.cookies.get(SESSION_COOKIE)) is not None:
        found = await run_in_threadpool(security.session, cookie)
        if found is not None:
            principal, session = found
            if request.method in UNSAFE_METHODS:
                await check_csrf(request, session.csrf_token)
            request.state.csrf_token = session.csrf_token
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller; 401 without a valid token or session."""
    if principal is None:
        raise HTTPException(
            401, "login or a bearer token is needed", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


@cache
def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency giving the caller if their active role allows ``permission`` (else 403)."""

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        principal.require(permission)
        return principal

    setattr(dependency, PERMISSION_ATTR, permission)
    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


def route_permissions(api: FastAPI) -> Iterator[tuple[APIRoute, Permission | None]]:
    """Every API route with the permission it requires (None: no ``require`` at all)."""
    for route in api.routes:
        if isinstance(route, APIRoute):
            yield route, _permission_of(route.dependant)


def _permission_of(dependant: Any) -> Permission | None:
    for dep in dependant.dependencies:
        found = getattr(dep.call, PERMISSION_ATTR, None)
        if isinstance(found, Permission):
            return found
        inner = _permission_of(dep)
        if inner is not None:
            return inner
    return None


# ---------------------------------------------------------------------- cookies


def cookie_secure(request: Request, settings: Settings) -> bool:
    """The Secure flag: as configured, else whether the request came over HTTPS."""
    if settings.cookie_secure is not None:
        return settings.cookie_secure
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, cookie: str) -> None:
    """Give the browser its session: HttpOnly, SameSite=Lax, Secure as configured."""
    settings = settings_of(request)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(settings.session_hours * 3600),
        path="/",
        secure=cookie_secure(request, settings),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Remove the session cookie from the browser."""
    secure = cookie_secure(request, settings_of(request))
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")


def issue_login_csrf(response: Response, request: Request) -> str:
    """A CSRF token for the login form (no session yet: double-submit, the cookie and the
    form field must match). The login page puts the returned value in its form."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/",
        secure=cookie_secure(request, settings_of(request)),
        httponly=True,
        samesite="strict",
    )
    return token


async def check_login_csrf(request: Request) -> None:
    """403 unless the login request repeats the login CSRF cookie."""
    await check_csrf(request, request.cookies.get(LOGIN_CSRF_COOKIE, ""))


# ---------------------------------------------------------------------- errors and headers


def install(api: FastAPI, settings: Settings) -> None:
    """Map Forbidden to 403 and OutOfScope to 404, and add the security headers."""

    async def forbidden(_request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc) or "forbidden"}, status_code=403)

    async def out_of_scope(_request: Request, _exc: Exception) -> Response:
        # The same answer as for an id that does not exist: ids cannot be probed.
        return JSONResponse({"detail": "not found"}, status_code=404)

    api.add_exception_handler(Forbidden, forbidden)
    api.add_exception_handler(OutOfScope, out_of_scope)
    api.add_middleware(SecurityHeaders, policy=settings.content_security_policy)


class SecurityHeaders:
    """Adds CSP, frame, sniffing, referrer and cache headers to every HTTP response."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self.headers if k not in names]
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                if not static and b"cache-control" not in names:
                    # Pages and API answers carry personal data: never cache them.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
