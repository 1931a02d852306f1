"""Dead-letter queue: what a service could not process, kept with its reason.

The record keeps the original key and bytes (so a replay is producing it back to
``softcollect-original-topic``) and adds the error in headers, in the way Kafka
Connect's DLQs do, so operators' existing tooling reads it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import NamedTuple

from aiokafka import AIOKafkaProducer

from . import metrics
from .logs import get_logger

log = get_logger(__name__)

HEADER_PREFIX = "softcollect-"


class RawMessage(NamedTuple):
    """A consumed Kafka record, as it came off the wire. (A named tuple: one is built per
    consumed record, and a frozen dataclass's constructor cost several times more.)"""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: float | None = None  # the record's broker timestamp, seconds since the epoch

    @property
    def received_at(self) -> dt.datetime:
        """When the record reached the broker: a stable time for what ingest says about it."""
        if self.timestamp is None:
            return dt.datetime.now(dt.UTC)
        return dt.datetime.fromtimestamp(self.timestamp, dt.UTC)


@dataclass(frozen=True)
class DeadLetter:
    kind: str  # undecodable | handler_error | retries_exhausted
    error: str
    reasons: tuple[dict, ...] = ()
    event_type: str | None = None
    attempts: int = 0


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str, service: str) -> None:
        self._producer = producer
        self.topic = topic
        self._service = service

    async def send(self, msg: RawMessage, letter: DeadLetter) -> None:
        """Publish and wait for the broker's ack; keeps trying, since losing it would lose the event."""
        headers = [
            *[(k, v) for k, v in msg.headers if not k.startswith(HEADER_PREFIX)],
            (f"{HEADER_PREFIX}service", self._service.encode()),
            (f"{HEADER_PREFIX}error-kind", letter.kind.encode()),
            (f"{HEADER_PREFIX}error", letter.error[:4000].encode()),
            (f"{HEADER_PREFIX}reasons", json.dumps(list(letter.reasons)).encode()),
            (f"{HEADER_PREFIX}original-topic", msg.topic.encode()),
            (f"{HEADER_PREFIX}original-partition", str(msg.partition).encode()),
            (f"{HEADER_PREFIX}original-offset", str(msg.offset).encode()),
            (f"{HEADER_PREFIX}attempts", str(letter.attempts).encode()),
        ]
        if letter.event_type:
            headers.append((f"{HEADER_PREFIX}event-type", letter.event_type.encode()))
        delay = 0.5
        while True:
            try:
                await self._producer.send_and_wait(self.topic, value=msg.value, key=msg.key, headers=headers)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("dlq publish failed; retrying", dlq=self.topic, error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        metrics.DEAD_LETTERS.labels(self._service, letter.kind).inc()
        log.warning("dead-lettered", dlq=self.topic, kind=letter.kind, error=letter.error[:500],
                    original_topic=msg.topic, partition=msg.partition, offset=msg.offset)


def parse_headers(headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]) -> dict[str, str]:
    """The softcollect-* headers of a dead letter, decoded (for tools and tests)."""
    return {k[len(HEADER_PREFIX):]: v.decode() for k, v in headers if k.startswith(HEADER_PREFIX)}
