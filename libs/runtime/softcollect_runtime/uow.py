"""Unit of work: one database transaction holding an event's effect, its processed-event
row and the events it causes (outbox rows). Either all of it commits or none of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from softcollect_events import CloudEvent, encode

from .db import outbox, processed_events, utcnow

R = TypeVar("R")


class UnitOfWork(Generic[R]):
    """``async with uow: claimed = await uow.claim(event); ...; await uow.commit()``.

    ``repos`` is what the service's handlers work with (built from the session by the
    service's store); ``emit`` queues outcome events, written to the outbox on commit.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], topic_prefix: str,
                 repos_factory: Callable[[AsyncSession], R] | None = None) -> None:
        self._sessions = sessions
        self._prefix = topic_prefix
        self._repos_factory = repos_factory
        self._pending: list[CloudEvent] = []
        self.session: AsyncSession
        self.repos: R
        self.committed = False
        self.event: CloudEvent | None = None  # the event claimed in this unit of work

    async def __aenter__(self) -> UnitOfWork[R]:
        self.session = self._sessions()
        await self.session.begin()
        self.repos = self._repos_factory(self.session) if self._repos_factory else None  # type: ignore[assignment]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if not self.committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def claim(self, event: CloudEvent) -> bool:
        """Record the event as processed; False when it already was (a redelivery or a resend).

        The row goes in first, so a concurrent second delivery waits on the key and then
        finds it taken, instead of both doing the work.
        """
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(processed_events).values(
            tenantid=event.tenantid, source=event.source, event_id=event.id,
            type=event.type, processed_at=utcnow(),
        ).on_conflict_do_nothing()
        result = await self.session.execute(stmt)
        self.event = event
        return result.rowcount == 1

    def emit(self, event: CloudEvent) -> None:
        self._pending.append(event)

    @property
    def emitted(self) -> list[CloudEvent]:
        return list(self._pending)

    async def commit(self) -> None:
        if self._pending:
            now = utcnow()
            rows = []
            for event in self._pending:
                rec = encode(event, prefix=self._prefix)
                rows.append({"topic": rec.topic, "key": rec.key, "value": rec.value,
                             "headers": [[k, v.decode("latin-1")] for k, v in rec.headers], "created_at": now})
            await self.session.execute(sa.insert(outbox), rows)
        await self.session.commit()
        self.committed = True


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autobegin=False)
