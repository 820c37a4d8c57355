"""Funds: cases and their stop-payment / freeze orders.

Revision ID: 0007_funds
Revises: 0006_web
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_funds"
down_revision: str | None = "0006_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER_STATES = "'draft', 'sent', 'executed', 'partially_executed', 'failed', 'expired', 'released'"


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(80), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", _ts(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("loss_fen", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", _json(), nullable=False),
        sa.CheckConstraint("state IN ('open', 'closed')", name=op.f("ck_cases_state")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_unit_state"), "cases", ["unit", "state"])
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(24), nullable=False),
        sa.Column("case_id", sa.String(80), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("bank", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("held_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", _json(), nullable=False),
        sa.CheckConstraint(f"state IN ({ORDER_STATES})", name=op.f("ck_orders_state")),
        sa.CheckConstraint("kind IN ('stop_payment', 'freeze')", name=op.f("ck_orders_kind")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_orders_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
        sa.UniqueConstraint(
            "case_id", "account", "kind", name=op.f("uq_orders_case_id_account_kind")
        ),
    )
    op.create_index(op.f("ix_orders_bank_state"), "orders", ["bank", "state"])
    op.create_index(op.f("ix_orders_unit_state"), "orders", ["unit", "state"])
    op.create_index(op.f("ix_orders_account"), "orders", ["account"])


def downgrade() -> None:
    op.drop_index(op.f("ix_orders_account"), table_name="orders")
    op.drop_index(op.f("ix_orders_unit_state"), table_name="orders")
    op.drop_index(op.f("ix_orders_bank_state"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_cases_unit_state"), table_name="cases")
    op.drop_table("cases")
