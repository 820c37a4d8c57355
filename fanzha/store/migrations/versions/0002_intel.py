"""Indicators and their append-only audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(2048), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("first_seen", _ts(), nullable=True),
        sa.Column("last_seen", _ts(), nullable=True),
        sa.Column("expires", _ts(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('phone', 'domain', 'url', 'account', 'app', 'device')",
            name=op.f("ck_indicators_kind"),
        ),
        sa.CheckConstraint(
            "verdict IN ('fraud', 'suspicious', 'allow')", name=op.f("ck_indicators_verdict")
        ),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 1", name=op.f("ck_indicators_confidence")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicators")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_indicators_kind_value")),
    )

    op.create_table(
        "indicator_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("old", _json(), nullable=True),
        sa.Column("new", _json(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "action IN ('added', 'upgraded', 'downgraded', 'allow', 'confidence', 'note',"
            " 'seen', 'expired')",
            name=op.f("ck_indicator_changes_action"),
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_indicator_changes_indicator_id_indicators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_changes")),
    )
    op.create_index(
        op.f("ix_indicator_changes_indicator_id"), "indicator_changes", ["indicator_id"]
    )


def downgrade() -> None:
    op.drop_table("indicator_changes")
    op.drop_table("indicators")
