"""Reminders' tables: each debtor's view as one document (with the date it next needs a
decision), the debtors' contact data kept apart, the mail queue, and each tenant's
business date.

`contacts` holds personal data (names, e-mail addresses): only the mail sender reads it,
and nothing from it goes into events or logs.

`messages` is the mail queue and its record: a written contact decided on a tick waits
here (`pending`), is marked `sending` in its own committed transaction just before the SMTP
attempt, and `sent` (with its `reminder.sent` / `statement.sent` in the same transaction)
after the server accepted it. See sender.py for what that order guarantees.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from softcollect_events import TENANT_CUSTOMERID
from softcollect_runtime.db import load_due_for_review, utcnow

from .domain import Debtor, Policy, next_review

metadata = sa.MetaData()
LOAD_CHUNK = 1000  # keys per SELECT … IN

debtors = sa.Table(
    "debtors", metadata,
    sa.Column("tenantid", sa.String(64), primary_key=True),
    sa.Column("customerid", sa.String(64), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("next_review", sa.Date),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_debtors_review", "tenantid", "next_review"),
)

contacts = sa.Table(
    "contacts", metadata,
    sa.Column("tenantid", sa.String(64), primary_key=True),
    sa.Column("customerid", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("emails", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

PENDING, SENDING, SENT, FAILED, CANCELLED = "pending", "sending", "sent", "failed", "cancelled"

messages = sa.Table(
    "messages", metadata,
    sa.Column("message_key", sa.String(64), primary_key=True),
    sa.Column("tenantid", sa.String(64), nullable=False),
    sa.Column("customerid", sa.String(64), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("step", sa.String(64), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("planned", sa.JSON, nullable=False),
    sa.Column("cause", sa.JSON, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Index("ix_messages_due", "status", "next_attempt_at"),
    sa.Index("ix_messages_debtor", "tenantid", "customerid"),
)

tenant_days = sa.Table(
    "tenant_days", metadata,
    sa.Column("tenantid", sa.String(64), primary_key=True),
    sa.Column("business_date", sa.Date, nullable=False),
)


def _insert(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class RemindersRepository:
    """Debtor views loaded once per unit of work and written back once at its commit (``flush``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._debtors: dict[tuple[str, str], Debtor] = {}
        self._dirty: dict[tuple[str, str], Policy] = {}
        self._days: dict[str, dt.date | None] = {}
        self._messages: list[dict[str, Any]] = []
        self.queued = 0  # messages queued in this unit of work (the sender is woken only then)

    # --- debtor views --------------------------------------------------------

    async def debtor(self, tenantid: str, customerid: str) -> Debtor:
        if (tenantid, customerid) not in self._debtors:
            await self.load_many([(tenantid, customerid)])
        return self._debtors[(tenantid, customerid)]

    async def prefetch(self, events: list) -> None:
        """Load every view a batch's debtor events touch, in one (locking) query."""
        await self.load_many({(e.tenantid, e.customerid) for e in events if e.customerid != TENANT_CUSTOMERID})

    async def load_many(self, keys: Any) -> None:
        wanted = sorted(set(keys) - self._debtors.keys())
        if not wanted:
            return
        for start in range(0, len(wanted), LOAD_CHUNK):  # PostgreSQL refuses huge row-value IN lists
            stmt = sa.select(debtors.c.tenantid, debtors.c.customerid, debtors.c.state).where(
                sa.tuple_(debtors.c.tenantid, debtors.c.customerid).in_(wanted[start:start + LOAD_CHUNK])).order_by(
                debtors.c.tenantid, debtors.c.customerid)
            if self.conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update()  # the tick, the sender and a debtor's own events may meet here
            for tenantid, customerid, state in await self.conn.execute(stmt):
                self._debtors[(tenantid, customerid)] = Debtor.from_dict(state)
        for tenantid, customerid in wanted:
            self._debtors.setdefault((tenantid, customerid), Debtor(tenantid, customerid))

    def changed(self, debtor: Debtor, policy: Policy) -> None:
        self._dirty[(debtor.tenantid, debtor.customerid)] = policy

    async def flush(self) -> None:
        if self._dirty:
            now = utcnow()
            rows = [{"tenantid": t, "customerid": c, "state": self._debtors[(t, c)].to_dict(),
                     "next_review": next_review(self._debtors[(t, c)], policy), "updated_at": now}
                    for (t, c), policy in self._dirty.items()]
            stmt = _insert(self.conn)(debtors)
            stmt = stmt.on_conflict_do_update(
                index_elements=[debtors.c.tenantid, debtors.c.customerid],
                set_={c: stmt.excluded[c] for c in ("state", "next_review", "updated_at")})
            await self.conn.execute(stmt, rows)
            self._dirty.clear()
        if self._messages:
            stmt = _insert(self.conn)(messages).on_conflict_do_nothing(index_elements=[messages.c.message_key])
            await self.conn.execute(stmt, self._messages)
            self.queued += len(self._messages)
            self._messages.clear()

    async def load_due(self, tenantid: str, day: dt.date) -> list[str]:
        """Load (locked) the views whose review date has come, in one query; their debtors."""
        return await load_due_for_review(self.conn, debtors, tenantid, day, self._debtors, Debtor.from_dict)

    # --- tenants' business dates --------------------------------------------

    async def business_date(self, tenantid: str) -> dt.date | None:
        if tenantid not in self._days:
            self._days[tenantid] = await self.conn.scalar(
                sa.select(tenant_days.c.business_date).where(tenant_days.c.tenantid == tenantid))
        return self._days[tenantid]

    async def set_business_date(self, tenantid: str, day: dt.date) -> None:
        self._days[tenantid] = day
        done = await self.conn.execute(
            sa.update(tenant_days).where(tenant_days.c.tenantid == tenantid).values(business_date=day))
        if done.rowcount == 0:
            await self.conn.execute(sa.insert(tenant_days).values(tenantid=tenantid, business_date=day))

    # --- contacts (personal data) ---------------------------------------------

    async def save_contact(self, tenantid: str, customerid: str, name: str, emails: list[str]) -> None:
        stmt = _insert(self.conn)(contacts).values(
            tenantid=tenantid, customerid=customerid, name=name, emails=emails, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=[contacts.c.tenantid, contacts.c.customerid],
            set_={c: stmt.excluded[c] for c in ("name", "emails", "updated_at")})
        await self.conn.execute(stmt)

    async def contact(self, tenantid: str, customerid: str) -> tuple[str, list[str]] | None:
        row = (await self.conn.execute(sa.select(contacts.c.name, contacts.c.emails).where(
            contacts.c.tenantid == tenantid, contacts.c.customerid == customerid))).first()
        return (row.name, list(row.emails)) if row else None

    # --- the mail queue ---------------------------------------------------------

    def queue_message(self, *, message_key: str, tenantid: str, customerid: str, business_date: dt.date,
                      step: str, template: str, planned: list[dict[str, Any]], cause: dict[str, Any]) -> None:
        now = utcnow()
        self._messages.append({
            "message_key": message_key, "tenantid": tenantid, "customerid": customerid,
            "business_date": business_date, "step": step, "template": template, "status": PENDING,
            "attempts": 0, "next_attempt_at": now, "planned": planned, "cause": cause, "last_error": None,
            "created_at": now, "updated_at": now, "sent_at": None})
