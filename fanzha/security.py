"""Security as a service: the pure :class:`~fanzha.auth.service.Security` over the SQL stores,
configured from Settings, with the org tree of the registry and the revealers of the objects
that exist so far (routers added later register theirs: ``fz.security.register_revealer``).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from fanzha.auth.accounts import LoginLimits
from fanzha.auth.masking import PiiKind
from fanzha.auth.passwords import Passwords
from fanzha.auth.principal import Principal, Scope
from fanzha.auth.service import PiiFields, Revealer, Security, SecurityConfig
from fanzha.dispatch.org import OrgError, OrgTree, Problem
from fanzha.dispatch.orgfile import OrgSetup, load_org, tree_from_registry
from fanzha.dispatch.routing import RoutingConfig
from fanzha.settings import Settings
from fanzha.store.instructions import SqlInstructions
from fanzha.store.reference import SqlReference
from fanzha.store.security import SqlAuditLog, SqlLoginAttempts, SqlSessions, SqlTokens, SqlUsers

log = logging.getLogger(__name__)


def security_config(settings: Settings) -> SecurityConfig:
    """Lifetimes and limits from the settings."""
    limits = LoginLimits(
        per_user=settings.login_max_failures_per_user,
        per_ip=settings.login_max_failures_per_ip,
        window=dt.timedelta(minutes=settings.login_window_minutes),
    )
    return SecurityConfig(
        session_lifetime=dt.timedelta(hours=settings.session_hours),
        session_idle=dt.timedelta(minutes=settings.session_idle_minutes),
        limits=limits,
        bootstrap_ingest_token=settings.ingest_token or None,
        lang=settings.lang,
    )


def registry_tree(sessions: sessionmaker[Session]) -> OrgTree | None:
    """The org tree of the registry's units; None when there are none (or they do not
    form a tree: then jurisdictions shrink to each grant's own unit, never grow)."""
    setup = org_setup(sessions, None)
    return None if setup is None else setup.tree


def org_setup(sessions: sessionmaker[Session], org_file: Path | None) -> OrgSetup | None:
    """The org tree and routing rules: the registry's units with the org file over them.

    Without a file, None when the registry has no units or they do not form a tree. A file
    that cannot be read or has problems raises :class:`OrgError` (every problem located):
    a centre must not run on an org it did not mean."""
    rows = SqlReference(sessions).org_units()
    if org_file is not None:
        try:
            text = org_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise OrgError([Problem(str(org_file), "file", str(exc))]) from None
        return load_org(text, source=str(org_file), registry=rows)
    if not rows:
        return None
    try:
        return OrgSetup(tree_from_registry(rows), RoutingConfig())
    except OrgError as exc:
        log.warning("org units of the registry do not form a tree: %s", exc)
        return None


def open_security(
    settings: Settings, sessions: sessionmaker[Session], tree: OrgTree | None
) -> Security:
    """The security service over the store's SQL tables, with the org tree that bounds
    jurisdictions (None: no units yet)."""
    security = Security(
        users=SqlUsers(sessions),
        tokens=SqlTokens(sessions),
        sessions=SqlSessions(sessions),
        attempts=SqlLoginAttempts(sessions),
        audit=SqlAuditLog(sessions),
        passwords=Passwords(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        ),
        config=security_config(settings),
        tree=tree,
    )
    security.register_revealer("instruction", instruction_revealer(SqlInstructions(sessions)))
    return security


def instruction_revealer(instructions: SqlInstructions) -> Revealer:
    """Reveal the phone or identity number of an instruction's person, in jurisdiction."""

    def reveal(_principal: Principal, scope: Scope, instruction_id: str) -> PiiFields | None:
        found = instructions.get(instruction_id)
        if found is None or not scope.sees_instruction(found.unit, found.copy_to):
            return None
        return {
            "phone": (PiiKind.PHONE, found.phone),
            "id_number": (PiiKind.ID_NUMBER, found.id_number),
        }

    return reveal
