"""Aging's tables: each debtor's ledger as one document, a journal of what changed it (to
replay any past date), and each tenant's business date.

A ledger row carries ``next_review``, the first business date on which time alone can move
one of its items, so a tick reads only the ledgers whose date has come.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from softcollect_events import TENANT_CUSTOMERID
from softcollect_runtime.db import load_due_for_review, utcnow
from softcollect_runtime.tenants import AgingPolicy

from .domain import Ledger

metadata = sa.MetaData()
LOAD_CHUNK = 1000  # keys per SELECT … IN

ledgers = sa.Table(
    "ledgers", metadata,
    sa.Column("tenantid", sa.String(64), primary_key=True),
    sa.Column("customerid", sa.String(64), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("next_review", sa.Date),
    sa.Column("has_balance", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_ledgers_review", "tenantid", "next_review"),
    sa.Index("ix_ledgers_balance", "tenantid", "has_balance"),
)

journal = sa.Table(
    "journal", metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tenantid", sa.String(64), nullable=False),
    sa.Column("customerid", sa.String(64), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("ix_journal_replay", "tenantid", "customerid", "seq"),
)

tenant_days = sa.Table(
    "tenant_days", metadata,
    sa.Column("tenantid", sa.String(64), primary_key=True),
    sa.Column("business_date", sa.Date, nullable=False),
)


class AgingRepository:
    """Ledgers by debtor, loaded once per unit of work and written back once at its commit
    (``flush``): a batch of a debtor's events costs one read and one write of its document."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._ledgers: dict[tuple[str, str], Ledger] = {}
        self._dirty: dict[tuple[str, str], AgingPolicy] = {}
        self._journal: list[dict] = []
        self._days: dict[str, dt.date | None] = {}

    async def ledger(self, tenantid: str, customerid: str) -> Ledger:
        key = (tenantid, customerid)
        if key not in self._ledgers:
            state = await self.load(tenantid, customerid)
            self._ledgers[key] = Ledger.from_dict(state) if state else Ledger(tenantid=tenantid, customerid=customerid)
        return self._ledgers[key]

    async def prefetch(self, events: list) -> None:
        """Load every ledger a batch's debtor events touch, in one (locking) query."""
        await self.load_many({(e.tenantid, e.customerid) for e in events if e.customerid != TENANT_CUSTOMERID})

    async def load_many(self, keys: set[tuple[str, str]] | list[tuple[str, str]]) -> None:
        wanted = sorted(set(keys) - self._ledgers.keys())
        if not wanted:
            return
        for start in range(0, len(wanted), LOAD_CHUNK):  # PostgreSQL refuses huge row-value IN lists
            chunk = wanted[start:start + LOAD_CHUNK]
            stmt = sa.select(ledgers.c.tenantid, ledgers.c.customerid, ledgers.c.state).where(
                sa.tuple_(ledgers.c.tenantid, ledgers.c.customerid).in_(chunk)).order_by(
                ledgers.c.tenantid, ledgers.c.customerid)
            if self.conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            for tenantid, customerid, state in await self.conn.execute(stmt):
                self._ledgers[(tenantid, customerid)] = Ledger.from_dict(state)
        for tenantid, customerid in wanted:  # debtors seen for the first time
            self._ledgers.setdefault((tenantid, customerid), Ledger(tenantid=tenantid, customerid=customerid))

    def changed(self, ledger: Ledger, policy: AgingPolicy) -> None:
        self._dirty[(ledger.tenantid, ledger.customerid)] = policy

    async def flush(self) -> None:
        """Write back the changed ledgers and the journal entries, one statement each."""
        if self._dirty:
            now = utcnow()
            rows = []
            for (tenantid, customerid), policy in self._dirty.items():
                ledger = self._ledgers[(tenantid, customerid)]
                rows.append({"tenantid": tenantid, "customerid": customerid, "state": ledger.to_dict(),
                             "next_review": ledger.next_review(policy), "updated_at": now,
                             "has_balance": any(ledger.open_total(c) or ledger.unapplied(c)
                                                for c in ledger.currencies())})
            insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(ledgers)
            stmt = stmt.on_conflict_do_update(
                index_elements=[ledgers.c.tenantid, ledgers.c.customerid],
                set_={c: stmt.excluded[c] for c in ("state", "next_review", "has_balance", "updated_at")})
            await self.conn.execute(stmt, rows)
            self._dirty.clear()
        if self._journal:
            await self.conn.execute(sa.insert(journal), self._journal)
            self._journal.clear()

    async def business_date(self, tenantid: str) -> dt.date | None:
        if tenantid not in self._days:
            self._days[tenantid] = await self.conn.scalar(
                sa.select(tenant_days.c.business_date).where(tenant_days.c.tenantid == tenantid))
        return self._days[tenantid]

    async def set_business_date(self, tenantid: str, date: dt.date) -> None:
        self._days[tenantid] = date
        done = await self.conn.execute(
            sa.update(tenant_days).where(tenant_days.c.tenantid == tenantid).values(business_date=date))
        if done.rowcount == 0:
            await self.conn.execute(sa.insert(tenant_days).values(tenantid=tenantid, business_date=date))

    async def load(self, tenantid: str, customerid: str) -> dict | None:
        stmt = sa.select(ledgers.c.state).where(ledgers.c.tenantid == tenantid, ledgers.c.customerid == customerid)
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()  # the tick and a debtor's own events may meet here
        return await self.conn.scalar(stmt)

    async def load_due(self, tenantid: str, date: dt.date) -> list[str]:
        """Load (locked) the ledgers whose review date has come, in one query; their debtors."""
        return await load_due_for_review(self.conn, ledgers, tenantid, date, self._ledgers, Ledger.from_dict)

    async def with_balance(self, tenantid: str) -> AsyncIterator[tuple[str, dict]]:
        result = await self.conn.stream(sa.select(ledgers.c.customerid, ledgers.c.state).where(
            ledgers.c.tenantid == tenantid, ledgers.c.has_balance.is_(True)).order_by(ledgers.c.customerid))
        async for customerid, state in result:
            yield customerid, state

    def record(self, tenantid: str, customerid: str, date: dt.date, type_: str, data: dict) -> None:
        """Journal an event that changed a ledger (written at ``flush``, in order)."""
        self._journal.append({"tenantid": tenantid, "customerid": customerid, "business_date": date,
                              "type": type_, "data": data})
