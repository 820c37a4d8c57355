"""Warnings issued by detection.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "warnings",
        sa.Column("warning_id", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("id_number", sa.String(18), nullable=True),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("first_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("level3_at", _ts(), nullable=True),
        sa.Column("level4_at", _ts(), nullable=True),
        sa.Column("fraud_type", sa.String(64), nullable=True),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("explanation_zh", sa.Text(), nullable=False),
        sa.Column("explanation_en", sa.Text(), nullable=False),
        sa.Column(
            "signals", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.CheckConstraint("level >= 1 AND level <= 4", name=op.f("ck_warnings_level")),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_warnings")),
    )
    op.create_index(op.f("ix_warnings_id_number"), "warnings", ["id_number"])
    op.create_index(op.f("ix_warnings_subject_first_at"), "warnings", ["subject", "first_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_warnings_subject_first_at"), table_name="warnings")
    op.drop_index(op.f("ix_warnings_id_number"), table_name="warnings")
    op.drop_table("warnings")
