"""SQLAlchemy models of the operational store.

The Alembic migrations in ``migrations/versions`` are written by hand and must agree with
these models (a test compares them on SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DEAD_LETTER_STATUSES = ("open", "retried", "discarded")
RUN_STATUSES = ("running", "done", "failed", "rolled_back")
ORG_LEVELS = ("city", "district", "station", "community")
INDICATOR_KINDS = ("phone", "domain", "url", "account", "app", "device")
VERDICTS = ("fraud", "suspicious", "allow")
CHANGE_ACTIONS = (
    "added",
    "upgraded",
    "downgraded",
    "allow",
    "confidence",
    "note",
    "seen",
    "expired",
)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware timestamp, stored in UTC and always read back aware (also on SQLite).

    Naive values are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        # SQLite has no zone type: keep the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def json_type() -> JSON:
    """JSON everywhere, JSONB on PostgreSQL (it has equality, so upserts can compare)."""
    return JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention shared by every backend."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class DeadLetterRow(Base):
    """A rejected record with its original bytes (see :mod:`fanzha.ingest.deadletter`)."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        CheckConstraint(_in("status", DEAD_LETTER_STATUSES), name="status"),
        Index("ix_dead_letters_created_at", "created_at"),
        Index("ix_dead_letters_source", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    run_id: Mapped[str | None] = mapped_column(String(36))
    source: Mapped[str] = mapped_column(String(1024))
    location: Mapped[str] = mapped_column(String(256))
    event_type: Mapped[str | None] = mapped_column(String(256))
    field: Mapped[str | None] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    layout: Mapped[str | None] = mapped_column(Text)


class IngestRunRow(Base):
    """One ingestion run: which files, how many records went where, and how it ended."""

    __tablename__ = "ingest_runs"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        Index("ix_ingest_runs_started_at", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    files: Mapped[list[str]] = mapped_column(json_type())
    event_type: Mapped[str | None] = mapped_column(String(64))
    strict: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(Text)


class PersonRecord(Base):
    """A resident from the registry (reference data): who lives where, with which numbers."""

    __tablename__ = "persons"

    id_number: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    phones: Mapped[list[str]] = mapped_column(json_type())
    accounts: Mapped[list[str]] = mapped_column(json_type())
    community: Mapped[str | None] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class OrgUnitRecord(Base):
    """A unit of the police hierarchy: city → district → station → community."""

    __tablename__ = "org_units"
    __table_args__ = (CheckConstraint(_in("level", ORG_LEVELS), name="level"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str | None] = mapped_column(String(256))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("org_units.code"), index=True
    )


class IndicatorRecord(Base):
    """An indicator (see :mod:`fanzha.intel.model`): one normalised value of a kind."""

    __tablename__ = "indicators"
    __table_args__ = (
        UniqueConstraint("kind", "value"),
        CheckConstraint(_in("kind", INDICATOR_KINDS), name="kind"),
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(2048))
    verdict: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(256))
    first_seen: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_seen: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    expires: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IndicatorChangeRecord(Base):
    """The audit trail of indicators, append-only: who changed what, when, from what to what."""

    __tablename__ = "indicator_changes"
    __table_args__ = (CheckConstraint(_in("action", CHANGE_ACTIONS), name="action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    indicator_id: Mapped[int] = mapped_column(Integer, ForeignKey("indicators.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(16))
    old: Mapped[dict[str, object] | None] = mapped_column(json_type())
    new: Mapped[dict[str, object] | None] = mapped_column(json_type())
    reason: Mapped[str] = mapped_column(Text)


class WarningRecord(Base):
    """A warning issued by detection (see :mod:`fanzha.detect.scoring`), upserted by its id so
    that replaying events never duplicates it."""

    __tablename__ = "warnings"
    __table_args__ = (
        CheckConstraint("level >= 1 AND level <= 4", name="level"),
        Index(None, "subject", "first_at"),
        Index("ix_warnings_first_at", "first_at"),  # the dashboard's today and last days
    )

    warning_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128))
    id_number: Mapped[str | None] = mapped_column(String(18), index=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    first_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    level3_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    level4_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    fraud_type: Mapped[str | None] = mapped_column(String(64))
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation_zh: Mapped[str] = mapped_column(Text)
    explanation_en: Mapped[str] = mapped_column(Text)
    signals: Mapped[list[dict[str, object]]] = mapped_column(json_type())


INSTRUCTION_STATES = ("issued", "signed", "contacting", "outcome_recorded", "closed")


class InstructionRecord(Base):
    """A dispatch instruction (see :mod:`fanzha.dispatch.instruction`): the whole instruction
    as JSON in ``body``, and beside it the columns that are filtered on, with the SLA
    deadlines (so that they survive restarts) and the one the current state works towards."""

    __tablename__ = "instructions"
    __table_args__ = (
        CheckConstraint(_in("state", INSTRUCTION_STATES), name="state"),
        CheckConstraint("level >= 1 AND level <= 4", name="level"),
        Index(None, "unit", "state"),
        Index("ix_instructions_unit_created", "unit", "created_at"),  # queue, dashboard
    )

    instruction_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    warning_id: Mapped[str] = mapped_column(String(32), unique=True)
    unit: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(24))
    level: Mapped[int] = mapped_column(Integer)
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    sign_by: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    contact_by: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    outcome_by: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    next_due: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), index=True)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, object]] = mapped_column(json_type())


SECURITY_ROLES = (
    "city_admin",
    "city_analyst",
    "district_dispatcher",
    "station_officer",
    "bank_liaison",
    "data_provider",
)


class UserRow(Base):
    """A login (see :mod:`fanzha.auth.accounts`): argon2 hash and grants (role at unit)."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    grants: Mapped[list[dict[str, object]]] = mapped_column(json_type())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    password_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ApiTokenRow(Base):
    """An API token for a machine: only the SHA-256 of its secret is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_in("role", SECURITY_ROLES), name="role"),)

    token_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    bank: Mapped[str | None] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class SessionRow(Base):
    """A server-side login session, keyed by the SHA-256 of the cookie's value."""

    __tablename__ = "sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    active_grant: Mapped[int] = mapped_column(Integer, default=0)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginAttemptRow(Base):
    """One login attempt, counted by username and by address for rate limiting."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index(None, "username", "at"), Index(None, "ip", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    success: Mapped[bool] = mapped_column(Boolean)


class AuditRow(Base):
    """An entry of the hash-chained audit log (see :mod:`fanzha.auth.audit`); append-only:
    the repository has no update or delete, and PostgreSQL refuses them by trigger."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "actor"), Index(None, "action"))

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, object]] = mapped_column(json_type())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


CASE_STATES = ("open", "closed")
ORDER_STATES = (
    "draft",
    "sent",
    "executed",
    "partially_executed",
    "failed",
    "expired",
    "released",
)
ORDER_KINDS = ("stop_payment", "freeze")


class CaseRecord(Base):
    """A funds case (see :mod:`fanzha.funds.orders`): the whole case, its report included,
    as JSON in ``body``; the filtered columns beside it."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("state", CASE_STATES), name="state"),
        Index(None, "unit", "state"),
    )

    case_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    unit: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    escalated: Mapped[bool] = mapped_column(Boolean)
    loss_fen: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, object]] = mapped_column(json_type())


class OrderRecord(Base):
    """A stop-payment or freeze order: the whole order as JSON in ``body``; the id is derived
    from (case, account, kind), so the primary key makes orders idempotent."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("state", ORDER_STATES), name="state"),
        CheckConstraint(_in("kind", ORDER_KINDS), name="kind"),
        UniqueConstraint("case_id", "account", "kind"),
        Index(None, "bank", "state"),
        Index(None, "unit", "state"),
        Index(None, "account"),
    )

    order_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(80), ForeignKey("cases.case_id"))
    unit: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    bank: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(24))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    held_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, object]] = mapped_column(json_type())
