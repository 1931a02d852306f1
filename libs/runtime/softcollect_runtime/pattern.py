"""A consumer of every topic matching a pattern (ingest: ``softcollect.inbound.<tenantid>``).

faust-streaming cannot subscribe to a pattern (its aiokafka driver passes topic names
only), so this runs aiokafka's own pattern subscription inside the faust worker, with
the same processor and the same at-least-once rule: an offset is committed only after
its message's work is committed (or dead-lettered). A topic created later is picked up
within ``metadata_max_age_ms``, without a restart.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError

from .dlq import RawMessage
from .logs import get_logger

if TYPE_CHECKING:
    from .service import Runtime

log = get_logger(__name__)


async def consume_pattern(runtime: Runtime, pattern: str, group_id: str, metadata_max_age_ms: int = 10_000) -> None:
    await runtime.start()
    consumer = AIOKafkaConsumer(
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=metadata_max_age_ms,
        max_poll_records=runtime.settings.batch_size,
        fetch_max_wait_ms=100,  # an intake gate: latency matters more than fetch batching
        client_id=f"{group_id}-pattern",
        **runtime.settings.kafka.aiokafka_options(),
    )
    consumer.subscribe(pattern=pattern)
    await consumer.start()
    finishing: asyncio.Future | None = None  # the previous poll's transaction, then its offsets
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                continue
            # Every partition's records of one poll in one unit of work (a transaction per partition
            # per poll meant a handful of events per transaction); each partition's stay in order.
            msgs = [RawMessage(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()),
                               r.timestamp / 1000 if r.timestamp is not None else None)
                    for records in batch.values() for r in records]
            offsets = {TopicPartition(tp.topic, tp.partition): records[-1].offset + 1
                       for tp, records in batch.items()}
            # decoded while the previous poll's transaction waits on the database; applied after it
            prepared = await runtime.processor.prepare(msgs)
            if finishing is not None:
                await finishing
            finishing = asyncio.ensure_future(asyncio.shield(_finish(runtime, consumer, msgs, prepared, offsets)))
    finally:
        if finishing is not None:
            await asyncio.shield(finishing)
        await consumer.stop()


async def _finish(runtime: Runtime, consumer: AIOKafkaConsumer, msgs: list[RawMessage], prepared: object,
                  offsets: dict[TopicPartition, int]) -> None:
    """A poll's unit of work, then its offsets: at least once, never an offset before its effect."""
    await runtime.processor.process_batch(msgs, prepared)
    try:
        await consumer.commit(offsets)
    except CommitFailedError as exc:  # a rebalance took partitions: their new owner redoes, idempotently
        log.warning("offset commit lost to a rebalance", error=str(exc))
