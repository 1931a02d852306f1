"""The transactional outbox: units of work write the records they emit into the ``outbox`` table
in their own transaction; the relay publishes committed rows in id order, then deletes them.

At-least-once: a crash between the broker's ack and the delete republishes the
same records (same CloudEvents ids), which every consumer deduplicates.

The table is the truth. As a shortcut the relay keeps the records its own process just
committed in memory (by outbox id), so it reads only the pending ids from the table and
the contents of rows it did not write itself (another process's, or a crashed run's).
"""

from __future__ import annotations

import asyncio
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from softcollect_events import KafkaRecord

from . import metrics
from .db import outbox, utcnow
from .polling import poll_batches

# Records remembered for the relay beyond this are read back from the table instead.
MEMORY_LIMIT = 50_000


class _Bytes(postgresql.BYTEA):
    """bytea passed to asyncpg as is: the array type's per-element bind processing only copied them."""

    cache_ok = True

    def bind_processor(self, dialect):
        return None


# One multi-row statement with the rows as arrays: SQLAlchemy's executemany compiles
# parameters row by row, which cost more CPU than the insert itself.
# The ids come back as one array (a row each cost more in SQLAlchemy than the insert did).
_INSERT_PG = sa.text(
    "WITH inserted AS ("
    "INSERT INTO outbox (topic, key, value, headers, created_at) "
    "SELECT topic, key, value, headers::json, :created_at "
    "FROM unnest(:topics, :keys, :values, :headers) AS r(topic, key, value, headers) "
    "RETURNING id) "
    "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM inserted"
).bindparams(
    sa.bindparam("topics", type_=postgresql.ARRAY(sa.Text)),
    sa.bindparam("keys", type_=postgresql.ARRAY(_Bytes)),
    sa.bindparam("values", type_=postgresql.ARRAY(_Bytes)),
    sa.bindparam("headers", type_=postgresql.ARRAY(sa.Text)),
    sa.bindparam("created_at", type_=sa.DateTime(timezone=True)),
)


def _headers_json(record: KafkaRecord) -> str:
    # orjson: the stdlib's encoder is set up anew on every call, which cost more than the insert
    return orjson.dumps([[k, v.decode("latin-1")] for k, v in record.headers]).decode()


async def write_outbox(conn: AsyncConnection, records: Sequence[KafkaRecord]) -> list[int]:
    """Insert the records into the outbox; their ids, in the records' order (PostgreSQL; an empty
    list on SQLite)."""
    if not records:
        return []
    now = utcnow()
    if conn.dialect.name == "postgresql":
        # Rows take ids in the order unnest yields them, which is the arrays' order.
        result = await conn.execute(_INSERT_PG, {
            "topics": [r.topic for r in records], "keys": [r.key for r in records],
            "values": [r.value for r in records], "headers": [_headers_json(r) for r in records],
            "created_at": now})
        return list(result.scalar_one())
    # SQLite: a plain executemany. (RETURNING in parameter order made SQLAlchemy insert row by row,
    # twice as slow.) Without ids the relay reads these rows back, as it does another process's.
    await conn.execute(sa.insert(outbox), [
        {"topic": r.topic, "key": r.key, "value": r.value,
         "headers": [[k, v.decode("latin-1")] for k, v in r.headers], "created_at": now} for r in records])
    return []


_PARTITIONER = DefaultPartitioner()


@lru_cache(maxsize=65_536)
def partition_of(key: bytes, partitions: tuple[int, ...]) -> int:
    """The partition the default (murmur2, Java-compatible) partitioner picks; cached, since one
    customer's key comes back for each of its events and murmur2 is pure Python."""
    return _PARTITIONER(key, list(partitions), list(partitions))


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, producer: AIOKafkaProducer, service: str,
                 batch_size: int = 500, poll_seconds: float = 0.5) -> None:
        self._engine = engine
        self._producer = producer
        self._service = service
        self._batch = batch_size
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._memory: OrderedDict[int, KafkaRecord] = OrderedDict()
        # One relay per service at a time publishes, so records of one key keep their order
        # even when the service runs as several processes.
        self._lock_key = zlib.crc32(f"softcollect-outbox:{service}".encode())

    def wake(self) -> None:
        self._wake.set()

    def remember(self, ids: Sequence[int], records: Sequence[KafkaRecord]) -> None:
        """Records this process just committed to the outbox (so the relay need not read them back).
        Without ids (SQLite) there is nothing to remember."""
        if ids and len(self._memory) + len(ids) <= MEMORY_LIMIT:
            self._memory.update(zip(ids, records, strict=True))

    async def run(self) -> None:
        await poll_batches(self.publish_batch, self._batch, self._poll, self._wake, "outbox publish")

    async def publish_batch(self) -> int:
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                if not await conn.scalar(_LOCK_PG, {"lock_key": self._lock_key}):
                    return 0
                # a statement of its own: its snapshot must follow the lock, or it could still see
                # rows the lock's previous holder published and deleted just before releasing it
                ids = list(await conn.scalar(_PENDING_PG, {"limit": self._batch}))
            else:
                ids = list((await conn.execute(
                    sa.select(outbox.c.id).order_by(outbox.c.id).limit(self._batch))).scalars())
            if not ids:
                self._memory.clear()
                metrics.OUTBOX_PENDING.labels(self._service).set(0)
                return 0
            # Remembered ids below the oldest pending one were published (by another process).
            # They are remembered in about id order, so the stale ones are at the front.
            while self._memory and next(iter(self._memory)) < ids[0]:
                self._memory.popitem(last=False)
            records = await self._records(conn, ids)
            await self._send(records)
            await conn.execute(sa.delete(outbox).where(_id_among(conn, ids)))
            for i in ids:
                self._memory.pop(i, None)
            # a full batch means there may be a backlog: count it (cheap, the table is drained)
            pending = await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) \
                if len(ids) == self._batch else 0
        metrics.OUTBOX_PUBLISHED.labels(self._service).inc(len(ids))
        metrics.OUTBOX_PENDING.labels(self._service).set(pending)
        return len(ids)

    async def _records(self, conn: AsyncConnection, ids: list[int]) -> list[KafkaRecord]:
        missing = [i for i in ids if i not in self._memory]
        found: dict[int, KafkaRecord] = {}
        if missing:
            rows = await conn.execute(
                sa.select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers)
                .where(_id_among(conn, missing)))
            for r in rows:
                found[r.id] = KafkaRecord(r.topic, r.key, r.value, [(k, v.encode("latin-1")) for k, v in r.headers])
        return [self._memory[i] if i in self._memory else found[i] for i in ids]

    async def _send(self, records: list[KafkaRecord]) -> None:
        """Publish in order and wait for every ack: one producer batch per partition rather than a
        ``send`` (a coroutine, a partitioner call and a future) per record."""
        producer = self._producer
        partitions: dict[str, tuple[int, ...]] = {}
        open_batches: dict[tuple[str, int], object] = {}
        acks = []
        for rec in records:
            if rec.topic not in partitions:
                partitions[rec.topic] = tuple(sorted(await producer.partitions_for(rec.topic)))
            tp = (rec.topic, partition_of(rec.key, partitions[rec.topic]))
            batch = open_batches.get(tp)
            if batch is None:
                batch = open_batches[tp] = producer.create_batch()
            if batch.append(key=rec.key, value=rec.value, timestamp=None, headers=rec.headers) is None:
                acks.append(await producer.send_batch(batch, tp[0], partition=tp[1]))  # full: it goes
                batch = open_batches[tp] = producer.create_batch()
                batch.append(key=rec.key, value=rec.value, timestamp=None, headers=rec.headers)
        for (topic, partition), batch in open_batches.items():
            acks.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*acks)


def _id_among(conn: AsyncConnection, ids: list[int]) -> sa.ColumnElement[bool]:
    # PostgreSQL: one array parameter (an IN list binds, and plans, one parameter per id), given as
    # its text form — integers need no quoting, and asyncpg checks an array's elements in Python.
    if conn.dialect.name == "postgresql":
        literal = sa.bindparam("ids", "{" + ",".join(map(str, ids)) + "}", type_=sa.Text)
        return outbox.c.id == sa.any_(sa.cast(literal, postgresql.ARRAY(sa.BigInteger)))
    return outbox.c.id.in_(ids)


_LOCK_PG = sa.text("SELECT pg_try_advisory_xact_lock(:lock_key)").bindparams(
    sa.bindparam("lock_key", type_=sa.BigInteger))
# the ids as one array: a row per id cost more than the query
_PENDING_PG = sa.text(
    "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM (SELECT id FROM outbox ORDER BY id LIMIT :limit) o"
).bindparams(sa.bindparam("limit", type_=sa.Integer))
