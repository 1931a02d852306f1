"""Kafka clients with the settings softcollect relies on: idempotent producers, topic catalogue."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from .settings import KafkaSettings


def make_producer(kafka: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    # Idempotence forces acks=all and keeps per-partition order across retries.
    return AIOKafkaProducer(
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        # per partition: the relay hands over up to a thousand records at once, and each batch is
        # a future and a request part of its own (the broker takes up to 1 MiB by default)
        max_batch_size=256 * 1024,
        request_timeout_ms=30000,
        **kafka.aiokafka_options(),
    )


async def ensure_topics(kafka: KafkaSettings, names: Iterable[str], partitions: int = 6,
                        replication: int = 1) -> list[str]:
    """Create the topics that are missing; returns the ones it created."""
    admin = AIOKafkaAdminClient(client_id="softcollect-admin", **kafka.aiokafka_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(set(names) - existing)
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(name=n, num_partitions=partitions, replication_factor=replication) for n in missing]
                )
            except TopicAlreadyExistsError:  # another process won the race
                pass
        return missing
    finally:
        await admin.close()
