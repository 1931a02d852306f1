"""ingest: processed events, outbox, rejected inputs, simulated clocks

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
        "rejected_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("rejection_id", sa.String(64), nullable=False, unique=True),
        sa.Column("tenantid", sa.String(64), nullable=False, index=True),
        sa.Column("received_via", sa.String(8), nullable=False),
        sa.Column("topic", sa.String(255)),
        sa.Column("partition", sa.Integer),
        sa.Column("offset", sa.BigInteger),
        sa.Column("line", sa.Integer),
        sa.Column("event_type", sa.String(100)),
        sa.Column("event_id", sa.String(255)),
        sa.Column("original", sa.LargeBinary, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "tenant_clocks",
        sa.Column("tenantid", sa.String(64), primary_key=True),
        sa.Column("business_date", sa.Date, nullable=False),
    )
