"""reminders: processed events, outbox, debtor views, contacts, mail queue, tenants' business dates

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
        "debtors",
        sa.Column("tenantid", sa.String(64), primary_key=True),
        sa.Column("customerid", sa.String(64), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("next_review", sa.Date),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_debtors_review", "debtors", ["tenantid", "next_review"])
    op.create_table(
        "contacts",
        sa.Column("tenantid", sa.String(64), primary_key=True),
        sa.Column("customerid", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("emails", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("message_key", sa.String(64), primary_key=True),
        sa.Column("tenantid", sa.String(64), nullable=False),
        sa.Column("customerid", sa.String(64), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned", sa.JSON, nullable=False),
        sa.Column("cause", sa.JSON, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_messages_due", "messages", ["status", "next_attempt_at"])
    op.create_index("ix_messages_debtor", "messages", ["tenantid", "customerid"])
    op.create_table(
        "tenant_days",
        sa.Column("tenantid", sa.String(64), primary_key=True),
        sa.Column("business_date", sa.Date, nullable=False),
    )
