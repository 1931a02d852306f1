"""Unit of work: one database transaction holding events' effects, their processed-event rows
and the events they cause (outbox rows). Either all of it commits or none of it.

It runs on a SQLAlchemy Core connection, not an ORM session: the services write plain
statements, and the ORM's per-statement bookkeeping was most of an event's cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from softcollect_events import CloudEvent, KafkaRecord, encode

from .db import processed_events, utcnow
from .outbox import write_outbox

# The batch's keys as one JSON parameter in one statement: SQLAlchemy's executemany compiles
# parameters row by row, and asyncpg checks every element of an array parameter in Python.
# One row back: the positions of the keys already claimed (usually none), not a row per new key.
_CLAIM_PG = sa.text(
    "WITH e AS (SELECT x->>0 AS tenantid, x->>1 AS source, x->>2 AS event_id, x->>3 AS type, n - 1 AS i "
    "FROM json_array_elements(CAST(:events AS json)) WITH ORDINALITY AS t(x, n)), "
    "claimed AS (INSERT INTO processed_events (tenantid, source, event_id, type, processed_at) "
    "SELECT tenantid, source, event_id, type, :processed_at FROM e "
    "ON CONFLICT DO NOTHING RETURNING tenantid, source, event_id) "
    "SELECT coalesce(array_agg(i), '{}') FROM e WHERE NOT EXISTS (SELECT 1 FROM claimed c "
    "WHERE c.tenantid = e.tenantid AND c.source = e.source AND c.event_id = e.event_id)"
).bindparams(sa.bindparam("events", type_=sa.Text), sa.bindparam("processed_at", type_=sa.DateTime(timezone=True)))

R = TypeVar("R")


class UnitOfWork(Generic[R]):
    """``async with uow: claimed = await uow.claim(event); ...; await uow.commit()``.

    ``repos`` is what the service's handlers work with (built from the connection by the
    service's store); ``emit`` queues outcome events, written to the outbox on commit.
    A unit of work may hold many events (a batch): ``claim`` and ``emit`` add to it.
    """

    def __init__(self, engine: AsyncEngine, topic_prefix: str,
                 repos_factory: Callable[[AsyncConnection], R] | None = None) -> None:
        self._engine = engine
        self._prefix = topic_prefix
        self._repos_factory = repos_factory
        self._pending: list[CloudEvent | KafkaRecord] = []
        self.conn: AsyncConnection
        self.repos: R
        self.committed = False
        self.event: CloudEvent | None = None  # the event claimed last in this unit of work
        self.claimed: list[CloudEvent] = []
        # after commit: what went into the outbox, for the relay to publish without reading it back
        self.outbox_ids: list[int] = []
        self.outbox_records: list[KafkaRecord] = []

    async def __aenter__(self) -> UnitOfWork[R]:
        self.conn = await self._engine.connect()
        await self.conn.begin()
        self.repos = self._repos_factory(self.conn) if self._repos_factory else None  # type: ignore[assignment]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if not self.committed:
                await self.conn.rollback()
        finally:
            await self.conn.close()

    async def claim(self, event: CloudEvent) -> bool:
        """Record the event as processed; False when it already was (a redelivery or a resend).

        The row goes in first, so a concurrent second delivery waits on the key and then
        finds it taken, instead of both doing the work.
        """
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(processed_events).values(
            tenantid=event.tenantid, source=event.source, event_id=event.id,
            type=event.type, processed_at=utcnow(),
        ).on_conflict_do_nothing()
        result = await self.conn.execute(stmt)
        self.event = event
        if result.rowcount == 1:
            self.claimed.append(event)
            return True
        return False

    async def seen(self, event: CloudEvent) -> bool:
        """Whether the event was already processed (without claiming it)."""
        return bool(await self.conn.scalar(sa.select(sa.literal(1)).where(
            processed_events.c.tenantid == event.tenantid, processed_events.c.source == event.source,
            processed_events.c.event_id == event.id)))

    async def claim_many(self, events: list[CloudEvent]) -> list[bool]:
        """``claim`` for a batch in one statement: True for each event seen for the first time
        (a second copy inside the batch is a duplicate too)."""
        if not events:
            return []
        first: dict[tuple[str, str, str], int] = {}
        for i, e in enumerate(events):
            first.setdefault((e.tenantid, e.source, e.id), i)
        now = utcnow()
        keys = list(first)
        if self.conn.dialect.name == "postgresql":
            seen = await self.conn.scalar(_CLAIM_PG, {
                "events": orjson.dumps([(*k, events[first[k]].type) for k in keys]).decode(), "processed_at": now})
            fresh = [True] * len(keys)
            for position in seen:
                fresh[position] = False
        else:
            # executemany: SQLAlchemy's "insertmanyvalues" sends multi-row INSERTs from one cached
            # statement, and RETURNING tells which rows were new.
            stmt = sqlite.insert(processed_events).on_conflict_do_nothing().returning(
                processed_events.c.tenantid, processed_events.c.source, processed_events.c.event_id)
            rows = (await self.conn.execute(stmt, [
                {"tenantid": k[0], "source": k[1], "event_id": k[2], "type": events[first[k]].type,
                 "processed_at": now} for k in keys])).all()
            new_keys = {tuple(row) for row in rows}
            fresh = [k in new_keys for k in keys]
        flags = [False] * len(events)
        for is_new, i in zip(fresh, first.values(), strict=True):
            if is_new:
                flags[i] = True
                self.claimed.append(events[i])
        self.event = events[-1]
        return flags

    def emit(self, event: CloudEvent) -> None:
        self._pending.append(event)

    def emit_record(self, record: KafkaRecord) -> None:
        """An already encoded record (ingest forwards a client's valid bytes as they came)."""
        self._pending.append(record)

    @property
    def emitted(self) -> list[CloudEvent | KafkaRecord]:
        return list(self._pending)

    async def commit(self) -> None:
        # Repositories that keep aggregates in memory for the unit of work write them back now.
        if (flush := getattr(self.repos, "flush", None)) is not None:
            await flush()
        if self._pending:
            self.outbox_records = [p if isinstance(p, KafkaRecord) else encode(p, prefix=self._prefix)
                                   for p in self._pending]
            self.outbox_ids = await write_outbox(self.conn, self.outbox_records)
        await self.conn.commit()
        self.committed = True
