"""Ingest's tables: rejected inputs kept for operators, and each simulated tenant's clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from softcollect_runtime.db import processed_events, utcnow

metadata = sa.MetaData()

rejected_events = sa.Table(
    "rejected_events", metadata,
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

tenant_clocks = sa.Table(
    "tenant_clocks", metadata,
    sa.Column("tenantid", sa.String(64), primary_key=True),
    sa.Column("business_date", sa.Date, nullable=False),
)


class IngestRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def business_date(self, tenantid: str) -> dt.date | None:
        return await self.conn.scalar(
            sa.select(tenant_clocks.c.business_date).where(tenant_clocks.c.tenantid == tenantid))

    async def advance_clock(self, tenantid: str, date: dt.date) -> None:
        updated = await self.conn.execute(
            sa.update(tenant_clocks).where(tenant_clocks.c.tenantid == tenantid).values(business_date=date))
        if updated.rowcount == 0:
            await self.conn.execute(sa.insert(tenant_clocks).values(tenantid=tenantid, business_date=date))

    async def keep_rejected(self, **row: Any) -> bool:
        """False when this very input (same ``rejection_id``) was already kept: a redelivery."""
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        result = await self.conn.execute(
            insert(rejected_events).values(received_at=utcnow(), **row).on_conflict_do_nothing())
        return result.rowcount == 1

    async def forget_accepted_before(self, tenantid: str, before: dt.datetime) -> int:
        """Deduplication retention: ids accepted before ``before`` may be accepted again."""
        result = await self.conn.execute(sa.delete(processed_events).where(
            processed_events.c.tenantid == tenantid, processed_events.c.processed_at < before))
        return result.rowcount
