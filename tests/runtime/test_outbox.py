"""The outbox relay on the real broker and database: records a process remembers (just committed)
and rows it must read back (another process's, a crashed run's) go out together, in id order, each
once, and the table is left empty. On PostgreSQL and on SQLite (which never remembers)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa

from softcollect_events import KafkaRecord
from softcollect_runtime.db import create_engine, create_tables, outbox
from softcollect_runtime.kafka import ensure_topics, make_producer
from softcollect_runtime.outbox import OutboxRelay, partition_of
from softcollect_runtime.settings import KafkaSettings
from softcollect_runtime.uow import UnitOfWork
from tests.support import read_all, unique

pytestmark = [pytest.mark.broker]


def record(topic: str, customer: str, n: int) -> KafkaRecord:
    return KafkaRecord(topic, f"acme:{customer}".encode(), f'{{"n":{n}}}'.encode(),
                       [("ce_id", f"id-{n}".encode()), ("ce_type", b"probe.recorded")])


async def commit(engine, records: list[KafkaRecord]) -> UnitOfWork:
    async with UnitOfWork(engine, "unused.") as uow:
        for r in records:
            uow.emit_record(r)
        await uow.commit()
    return uow


@asynccontextmanager
async def outbox_on(url: str, schema: str, partitions: int):
    """A fresh topic, the runtime's tables in the schema, an engine and a started producer."""
    topic = unique("outbox-relay-")
    await ensure_topics(KafkaSettings(), [topic], partitions=partitions)
    create_tables(url, schema, sa.MetaData())
    engine = create_engine(url, schema)
    producer = make_producer(KafkaSettings(), client_id="test-outbox")
    await producer.start()
    try:
        yield topic, engine, producer
    finally:
        await producer.stop()
        await engine.dispose()


@pytest.fixture(params=["postgres", "sqlite"])
def database(request, tmp_path):
    if request.param == "postgres":
        return request.getfixturevalue("pg_url"), unique("outbox_")
    return f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}", "main"


async def test_remembered_and_read_back_records_go_out_in_id_order_once(database, kafka_bootstrap):
    url, schema = database
    async with outbox_on(url, schema, partitions=3) as (topic, engine, producer):
        relay = OutboxRelay(engine, producer, unique("svc"), batch_size=4)
        # Four customers' records over three units of work; the middle one is "another process's":
        # its rows are committed but never handed to this relay.
        mine = await commit(engine, [record(topic, f"C{i % 4}", i) for i in range(6)])
        await commit(engine, [record(topic, f"C{i % 4}", i) for i in range(6, 9)])
        also_mine = await commit(engine, [record(topic, f"C{i % 4}", i) for i in range(9, 12)])
        for uow in (mine, also_mine):
            relay.remember(uow.outbox_ids, uow.outbox_records)
        assert len(relay._memory) == (9 if url.startswith("postgresql") else 0)  # SQLite: ids not known

        published = 0
        while sent := await relay.publish_batch():
            assert sent <= 4  # the batch size bounds a pass
            published += sent
        assert published == 12
        assert not relay._memory  # nothing left behind in memory either

        async with engine.connect() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) == 0
        records = await read_all(topic)
        assert sorted(int(r.value[5:-1]) for r in records) == list(range(12))  # each once
        by_partition: dict[int, list[int]] = {}
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            by_partition.setdefault(r.partition, []).append(int(r.value[5:-1]))
            assert dict(r.headers)["ce_id"] == f"id-{int(r.value[5:-1])}".encode()  # headers kept
            # the partition the Java-compatible default partitioner picks for the key
            assert r.partition == partition_of(r.key, (0, 1, 2))
        for numbers in by_partition.values():
            assert numbers == sorted(numbers)  # within a partition (so per key), in commit order


async def test_records_another_relay_published_are_forgotten(pg_url, kafka_bootstrap):
    """Two processes of one service: what the other relay published and deleted must not stay
    in this one's memory (nor be sent again)."""
    async with outbox_on(pg_url, unique("outbox_"), partitions=1) as (topic, engine, producer):
        service = unique("svc")
        this, other = OutboxRelay(engine, producer, service), OutboxRelay(engine, producer, service)
        first = await commit(engine, [record(topic, "C1", i) for i in range(3)])
        this.remember(first.outbox_ids, first.outbox_records)
        assert await other.publish_batch() == 3  # the other process's relay got there first
        later = await commit(engine, [record(topic, "C1", 3)])
        this.remember(later.outbox_ids, later.outbox_records)
        assert await this.publish_batch() == 1
        assert not this._memory
        records = await read_all(topic)
        assert [int(r.value[5:-1]) for r in records] == [0, 1, 2, 3]
        assert await asyncio.wait_for(this.publish_batch(), 10) == 0
