"""aging: processed events, outbox, ledgers, journal, tenants' business dates

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from softcollect_runtime.db import create_runtime_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_runtime_tables()
    op.create_table(
        "ledgers",
        sa.Column("tenantid", sa.String(64), primary_key=True),
        sa.Column("customerid", sa.String(64), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("next_review", sa.Date),
        sa.Column("has_balance", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ledgers_review", "ledgers", ["tenantid", "next_review"])
    op.create_index("ix_ledgers_balance", "ledgers", ["tenantid", "has_balance"])
    op.create_table(
        "journal",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenantid", sa.String(64), nullable=False),
        sa.Column("customerid", sa.String(64), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_journal_replay", "journal", ["tenantid", "customerid", "seq"])
    op.create_table(
        "tenant_days",
        sa.Column("tenantid", sa.String(64), primary_key=True),
        sa.Column("business_date", sa.Date, nullable=False),
    )
