"""Indexes for the pages: warnings by first time, instructions by unit and creation time.

Revision ID: 0006_web
Revises: 0005_security
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_web"
down_revision: str | None = "0005_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_warnings_first_at", "warnings", ["first_at"])
    op.create_index("ix_instructions_unit_created", "instructions", ["unit", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_instructions_unit_created", table_name="instructions")
    op.drop_index("ix_warnings_first_at", table_name="warnings")
