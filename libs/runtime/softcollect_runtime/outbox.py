"""The outbox relay: publishes committed outbox rows in order, then deletes them.

At-least-once: a crash between the broker's ack and the delete republishes the
same records (same CloudEvents ids), which every consumer deduplicates.
"""

from __future__ import annotations

import asyncio
import zlib

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from . import metrics
from .db import outbox
from .polling import poll_batches


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, producer: AIOKafkaProducer, service: str,
                 batch_size: int = 500, poll_seconds: float = 0.5) -> None:
        self._engine = engine
        self._producer = producer
        self._service = service
        self._batch = batch_size
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        # One relay per service at a time publishes, so records of one key keep their order
        # even when the service runs as several processes.
        self._lock_key = zlib.crc32(f"softcollect-outbox:{service}".encode())

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await poll_batches(self.publish_batch, self._batch, self._poll, self._wake, "outbox publish")

    async def publish_batch(self) -> int:
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                got = await conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(self._lock_key)))
                if not got:
                    return 0
            rows = (await conn.execute(
                sa.select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers)
                .order_by(outbox.c.id).limit(self._batch)
            )).all()
            if not rows:
                metrics.OUTBOX_PENDING.labels(self._service).set(0)
                return 0
            acks = [
                await self._producer.send(
                    r.topic, value=r.value, key=r.key,
                    headers=[(k, v.encode("latin-1")) for k, v in r.headers],
                )
                for r in rows
            ]
            await asyncio.gather(*acks)
            await conn.execute(sa.delete(outbox).where(outbox.c.id.in_([r.id for r in rows])))
            # a full batch means there may be a backlog: count it (cheap, the table is drained)
            pending = await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) \
                if len(rows) == self._batch else 0
        metrics.OUTBOX_PUBLISHED.labels(self._service).inc(len(rows))
        metrics.OUTBOX_PENDING.labels(self._service).set(pending)
        return len(rows)
