"""``fanzha users``, ``fanzha tokens`` and ``fanzha audit``: accounts, API tokens, the audit chain.

Passwords and tokens are printed once, to the terminal, never logged. Actions taken here are
audited as ``cli:<operating-system user>``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from fanzha.auth.audit import AuditEntry, verify
from fanzha.auth.principal import Grant
from fanzha.auth.repo import DuplicateError
from fanzha.auth.service import PolicyError
from fanzha.i18n import pick
from fanzha.service import App
from fanzha.settings import Settings

users_app = typer.Typer(
    help="Login accounts: add, list, passwd, disable, enable.", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="API tokens for machines: create, list, revoke.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log: verify, list.", no_args_is_help=True)

console = Console()
err = Console(stderr=True)

LABELS = {
    "password_once": (
        "用户 {user} 的密码(只显示这一次,请妥善保存):",
        "password of {user} (shown this once; keep it safe):",
    ),
    "token_once": (
        "令牌(只显示这一次,请妥善保存):",
        "token (shown this once; keep it safe):",
    ),
    "admin_created": (
        "首次启动:已创建管理员 admin。密码(只显示这一次):",
        "first start: created the admin user 'admin'. Password (shown this once):",
    ),
    "users": ("用户", "Users"),
    "tokens": ("API 令牌", "API tokens"),
    "audit": ("审计日志", "Audit log"),
    "chain_ok": ("审计链完整:{n} 条,链头 {head}", "audit chain intact: {n} entries, head {head}"),
    "chain_broken": (
        "审计链在第 {seq} 条断开:{reason}",
        "audit chain broken at entry {seq}: {reason}",
    ),
    "done": ("完成。", "done."),
}


def _settings() -> Settings:
    return Settings()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "cli:unknown"


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(1)


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise _fail("no password on standard input")
    return line


def _grants(values: list[str]) -> list[Grant]:
    try:
        return [Grant.parse(v) for v in values]
    except (ValueError, ValidationError) as exc:
        raise _fail(str(exc).splitlines()[-1]) from None


def ensure_admin(fz: App, lang: str) -> None:
    """First start: create ``admin`` with a generated password and print it once."""
    security = fz.security
    tree = security.tree
    roots = tree.roots() if tree is not None else []
    unit = roots[0].code if len(roots) == 1 else "city"
    password = security.ensure_admin(unit)
    if password is not None:
        console.print(f"[bold yellow]{pick(LABELS, 'admin_created', lang)}[/bold yellow]")
        console.print(password, markup=False, highlight=False)


# ---------------------------------------------------------------------- users


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ @ -).")],
    grant: Annotated[
        list[str],
        typer.Option(
            "--grant",
            "-g",
            help="role@unit, repeatable: city_admin@500100, station_officer@50010101 …",
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Full name shown on pages.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user; without --password-stdin a password is generated and printed once."""
    from fanzha.auth.passwords import generate_password

    settings = _settings()
    grants = _grants(grant)
    password = _read_password(password_stdin) or generate_password()
    with App(settings) as fz:
        try:
            fz.security.add_user(username, name or username, password, grants, _actor())
        except (PolicyError, DuplicateError) as exc:
            raise _fail(str(exc)) from None
        except ValidationError as exc:
            raise _fail(str(exc).splitlines()[-1]) from None
    if not password_stdin:
        console.print(pick(LABELS, "password_once", settings.lang, user=username))
        console.print(password, markup=False, highlight=False)


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user with their grants (never their hashes)."""
    settings = _settings()
    with App(settings) as fz:
        users = fz.security.users.list()
    rows: list[dict[str, Any]] = [
        {
            "username": u.username,
            "name": u.name,
            "grants": [str(g) for g in u.grants],
            "disabled": u.disabled,
            "created_at": u.created_at.isoformat(timespec="seconds"),
        }
        for u in users
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=pick(LABELS, "users", settings.lang))
    for column in ("username", "name", "grants", "disabled", "created_at"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r["username"], r["name"], ", ".join(r["grants"]), str(r["disabled"]), r["created_at"]
        )
    console.print(table)


@users_app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Argument()],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set a new password (generated and printed once unless read from stdin); the user's
    sessions end."""
    from fanzha.auth.passwords import generate_password

    settings = _settings()
    password = _read_password(password_stdin) or generate_password()
    with App(settings) as fz:
        try:
            fz.security.set_password(username, password, _actor())
        except KeyError:
            raise _fail(f"no user {username!r}") from None
        except PolicyError as exc:
            raise _fail(str(exc)) from None
    if not password_stdin:
        console.print(pick(LABELS, "password_once", settings.lang, user=username))
        console.print(password, markup=False, highlight=False)


def _set_disabled(username: str, disabled: bool) -> None:
    settings = _settings()
    with App(settings) as fz:
        try:
            fz.security.set_disabled(username, disabled, _actor())
        except KeyError:
            raise _fail(f"no user {username!r}") from None
    console.print(pick(LABELS, "done", settings.lang))


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and end their sessions."""
    _set_disabled(username, True)


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled user."""
    _set_disabled(username, False)


# ---------------------------------------------------------------------- tokens


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="What the token is for (移动话单接口, 工行联络).")],
    role: Annotated[
        str, typer.Option(help="data_provider (ingest only) or bank_liaison (one bank).")
    ] = "data_provider",
    bank: Annotated[str | None, typer.Option(help="The bank, for bank_liaison.")] = None,
    expires_days: Annotated[
        int | None, typer.Option(min=1, help="Days until the token stops working.")
    ] = None,
) -> None:
    """Create an API token and print it once (only its hash is kept)."""
    settings = _settings()
    text = f"{role}@{bank}" if bank else role
    [grant] = _grants([text])
    with App(settings) as fz:
        expires = None
        if expires_days is not None:
            expires = fz.security.clock.now() + dt.timedelta(days=expires_days)
        try:
            record, token = fz.security.create_token(name, grant, _actor(), expires)
        except ValidationError as exc:
            raise _fail(str(exc).splitlines()[-1]) from None
    console.print(f"{record.token_id}  {pick(LABELS, 'token_once', settings.lang)}")
    console.print(token, markup=False, highlight=False)


@tokens_app.command("list")
def tokens_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every token (ids, names, scopes, use; never the secrets)."""
    settings = _settings()
    with App(settings) as fz:
        tokens = fz.security.tokens.list()
    rows = [
        {
            "id": t.token_id,
            "name": t.name,
            "grant": str(t.grant),
            "created_by": t.created_by,
            "created_at": t.created_at.isoformat(timespec="seconds"),
            "expires_at": _iso(t.expires_at),
            "revoked_at": _iso(t.revoked_at),
            "last_used_at": _iso(t.last_used_at),
        }
        for t in tokens
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=pick(LABELS, "tokens", settings.lang))
    for column in ("id", "name", "grant", "created_at", "expires_at", "revoked_at", "last_used_at"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            *(
                str(r[c] or "")
                for c in (
                    "id",
                    "name",
                    "grant",
                    "created_at",
                    "expires_at",
                    "revoked_at",
                    "last_used_at",
                )
            )
        )
    console.print(table)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (fz_<id>_…).")],
) -> None:
    """Revoke a token: it stops working at once."""
    settings = _settings()
    with App(settings) as fz:
        if not fz.security.revoke_token(token_id, _actor()):
            raise _fail(f"no active token {token_id!r}")
    console.print(pick(LABELS, "done", settings.lang))


# ---------------------------------------------------------------------- audit


def _entry_json(entry: AuditEntry) -> dict[str, Any]:
    return entry.model_dump(mode="json")


@audit_app.command("verify")
def audit_verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the whole chain; exit 1 naming the first broken entry when it was tampered with."""
    settings = _settings()
    with App(settings) as fz:
        result = verify(fz.security.audit.entries())
    if as_json:
        broken = result.broken.to_json() if result.broken else None
        out = {"ok": result.ok, "checked": result.checked, "head": result.head, "broken": broken}
        typer.echo(json.dumps(out, ensure_ascii=False))
    elif result.broken is None:
        console.print(pick(LABELS, "chain_ok", settings.lang, n=result.checked, head=result.head))
    else:
        b = result.broken
        message = pick(LABELS, "chain_broken", settings.lang, seq=b.seq, reason=b.reason)
        err.print(message, markup=False, highlight=False)
        if b.entry is not None:
            err.print(json.dumps(_entry_json(b.entry), ensure_ascii=False), markup=False)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option(min=1)] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this actor (user:li.wei).")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action (pii.reveal).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest audit entries first."""
    settings = _settings()
    with App(settings) as fz:
        entries = fz.security.audit.latest(limit, actor=actor, action=action)
    if as_json:
        typer.echo(json.dumps([_entry_json(e) for e in entries], ensure_ascii=False))
        return
    table = Table(title=pick(LABELS, "audit", settings.lang))
    for column in ("seq", "at", "actor", "action", "object", "reason"):
        table.add_column(column, overflow="fold")
    for e in entries:
        obj = f"{e.object_type}:{e.object_id}" if e.object_type else e.object_id
        table.add_row(
            str(e.seq), e.at.isoformat(timespec="seconds"), e.actor, e.action, obj, e.reason
        )
    console.print(table)


__all__ = ["audit_app", "ensure_admin", "tokens_app", "users_app"]
