"""Initial store: dead letters, ingest runs, residents and the org tree.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("location", sa.String(256), nullable=False),
        sa.Column("event_type", sa.String(256), nullable=True),
        sa.Column("field", sa.String(256), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'retried', 'discarded')", name=op.f("ck_dead_letters_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("key", name=op.f("uq_dead_letters_key")),
    )
    op.create_index(op.f("ix_dead_letters_status"), "dead_letters", ["status"])
    op.create_index(op.f("ix_dead_letters_created_at"), "dead_letters", ["created_at"])
    op.create_index(op.f("ix_dead_letters_source"), "dead_letters", ["source"])

    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.Column("files", _json(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=True),
        sa.Column("strict", sa.Boolean(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'done', 'failed', 'rolled_back')",
            name=op.f("ck_ingest_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_runs")),
    )
    op.create_index(op.f("ix_ingest_runs_started_at"), "ingest_runs", ["started_at"])

    op.create_table(
        "persons",
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phones", _json(), nullable=False),
        sa.Column("accounts", _json(), nullable=False),
        sa.Column("community", sa.String(32), nullable=True),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id_number", name=op.f("pk_persons")),
    )
    op.create_index(op.f("ix_persons_community"), "persons", ["community"])

    op.create_table(
        "org_units",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("name_en", sa.String(256), nullable=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(32), nullable=True),
        sa.CheckConstraint(
            "level IN ('city', 'district', 'station', 'community')",
            name=op.f("ck_org_units_level"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["org_units.code"], name=op.f("fk_org_units_parent_code_org_units")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_org_units")),
    )
    op.create_index(op.f("ix_org_units_parent_code"), "org_units", ["parent_code"])


def downgrade() -> None:
    op.drop_table("org_units")
    op.drop_table("persons")
    op.drop_table("ingest_runs")
    op.drop_table("dead_letters")
