"""Dispatch instructions with their SLA deadlines.

Revision ID: 0004_dispatch
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_dispatch"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "instructions",
        sa.Column("instruction_id", sa.String(24), nullable=False),
        sa.Column("warning_id", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("sign_by", _ts(), nullable=False),
        sa.Column("contact_by", _ts(), nullable=False),
        sa.Column("outcome_by", _ts(), nullable=False),
        sa.Column("next_due", _ts(), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.CheckConstraint(
            "state IN ('issued', 'signed', 'contacting', 'outcome_recorded', 'closed')",
            name=op.f("ck_instructions_state"),
        ),
        sa.CheckConstraint("level >= 1 AND level <= 4", name=op.f("ck_instructions_level")),
        sa.PrimaryKeyConstraint("instruction_id", name=op.f("pk_instructions")),
        sa.UniqueConstraint("warning_id", name=op.f("uq_instructions_warning_id")),
    )
    op.create_index(op.f("ix_instructions_next_due"), "instructions", ["next_due"])
    op.create_index(op.f("ix_instructions_unit_state"), "instructions", ["unit", "state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_instructions_unit_state"), table_name="instructions")
    op.drop_index(op.f("ix_instructions_next_due"), table_name="instructions")
    op.drop_table("instructions")
