"""Ingest's work on each inbound message: decode, screen, then forward or reject — in one
unit of work, so a forwarded event, its deduplication row and a clock advance commit together."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from softcollect_events import (
    CONTENT_TYPE,
    REGISTRY,
    CloudEvent,
    DecodeError,
    KafkaRecord,
    Reason,
    decode,
    deterministic_id,
    encode,
    new_event,
    topic_name,
)
from softcollect_runtime.dlq import RawMessage
from softcollect_runtime.processing import Outcome
from softcollect_runtime.uow import UnitOfWork

from . import metrics
from .config import TenantDirectory
from .domain import UNKNOWN_TENANT, TenantFacts, customer_of, id_of, screen, tenant_of_topic, type_of
from .store import IngestRepository

SOURCE = "softcollect/ingest"

# messages decoded between two turns of the event loop (~5 ms of work)
_YIELD_EVERY = 100


async def reject(uow: UnitOfWork[IngestRepository], *, original: bytes, reasons: list[Reason], tenantid: str,
                 customerid: str, via: str, when: dt.datetime | None = None, rejection_id: str | None = None,
                 topic: str | None = None,
                 partition: int | None = None, offset: int | None = None, line: int | None = None,
                 event_type: str | None = None, event_id: str | None = None) -> bool:
    """Keep a rejected input (table + ``event.rejected``); False when this very input was already kept.

    A Kafka input's rejection id and time derive from its topic, partition and offset and its
    broker timestamp, so a redelivery is recognised and says the same."""
    if rejection_id is None:
        rejection_id = deterministic_id("rejected", str(topic), str(partition), str(offset))
    reason_dicts = [{"path": r.path, "message": r.message} for r in reasons]
    if not await uow.repos.keep_rejected(
            rejection_id=rejection_id, tenantid=tenantid, received_via=via, topic=topic, partition=partition,
            offset=offset, line=line, event_type=event_type, event_id=event_id, original=original,
            reasons=reason_dicts):
        return False
    data = {"original": base64.b64encode(original).decode("ascii"), "reasons": reason_dicts, "received_via": via}
    data.update({k: v for k, v in {"topic": topic, "partition": partition, "offset": offset, "line": line}.items()
                 if v is not None})
    uow.emit(new_event("event.rejected", data, source=SOURCE, tenantid=tenantid, customerid=customerid,
                       time=when, subject=event_id, id=rejection_id))
    metrics.REJECTED.labels(tenantid, event_type or "unknown").inc()
    return True


def forwarded(event: CloudEvent, raw: bytes, topic_prefix: str) -> KafkaRecord:
    """The canonical-topic record of an accepted event: the client's own bytes when they are
    already the current schema version (no upcast to apply), else the re-encoded event."""
    topic, type_header, versioned = _route(event.type, topic_prefix)
    if versioned:  # the type has versions: write the upcast form
        return encode(event, prefix=topic_prefix)
    return KafkaRecord(topic, event.key.encode(), raw,
                       [_CONTENT_TYPE_HEADER, type_header, ("ce_id", event.id.encode())])


_CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())


@lru_cache(maxsize=256)
def _route(event_type: str, topic_prefix: str) -> tuple[str, tuple[str, bytes], bool]:
    entry = REGISTRY[event_type]
    return topic_name(entry.topic, topic_prefix), ("ce_type", event_type.encode()), entry.schemaversion > 1


def _where(msg: RawMessage) -> dict:
    return {"via": "kafka", "when": msg.received_at, "topic": msg.topic, "partition": msg.partition,
            "offset": msg.offset}


@dataclass(slots=True)
class Screened:
    """An inbound message after the checks that need no database (decode, the gate's rules)."""

    msg: RawMessage
    channel: str | None  # the tenant of the topic it came on
    event: CloudEvent | None = None
    reasons: list[Reason] | None = None  # why it is refused, if it is
    parsed: object = None  # the JSON of an undecodable input, for its rejection's key and ids


@dataclass(slots=True)
class Prepared:
    screened: list[Screened]
    facts: dict[str, TenantFacts]


class Intake:
    """Ingest's work on a batch of inbound messages: ``prepare`` (no database: decode and the
    gate's rules), then ``apply`` in one unit of work (rejections kept, the clock's rules, which
    need the tenant's business date, claims, forwarded records)."""

    def __init__(self, tenants: TenantDirectory, topic_prefix: str, max_event_bytes: int) -> None:
        self._tenants = tenants
        self._prefix = topic_prefix
        self._max_bytes = max_event_bytes

    async def __call__(self, msgs: list[RawMessage], uow: UnitOfWork[IngestRepository]) -> list[tuple[str, Outcome]]:
        return await self.apply(await self.prepare(msgs), uow)

    async def prepare(self, msgs: list[RawMessage]) -> Prepared:
        channels: dict[str, str | None] = {}  # a batch comes from one topic or a few
        facts = self._tenants.facts(None)
        screened = []
        for n, msg in enumerate(msgs, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let a transaction waiting on the database go on meanwhile
            if msg.topic not in channels:
                channels[msg.topic] = tenant_of_topic(msg.topic, self._prefix)
                if channels[msg.topic] not in facts:
                    facts = self._tenants.facts(channels[msg.topic])  # a tenant configured since: reload
            item = Screened(msg, channels[msg.topic])
            raw = msg.value or b""
            try:
                if len(raw) > self._max_bytes:
                    raise DecodeError([Reason(path="$", message=(
                        f"the event is {len(raw)} bytes; at most {self._max_bytes} bytes are accepted"))])
                item.event = decode(raw)
            except DecodeError as err:
                item.reasons, item.parsed = err.reasons, err.parsed
            else:
                if item.event.type != "clock.tick":  # a tick's rules need the tenant's clock: in apply
                    item.reasons = screen(item.event, item.channel, facts, None) or None
            screened.append(item)
        return Prepared(screened, facts)

    async def apply(self, prepared: Prepared, uow: UnitOfWork[IngestRepository]) -> list[tuple[str, Outcome]]:
        screened = prepared.screened
        results: list[tuple[str, Outcome] | None] = [None] * len(screened)
        passed: list[tuple[int, CloudEvent]] = []
        clocks: dict[str, dt.date | None] = {}  # tenants' business dates, as this batch moves them
        for i, item in enumerate(screened):
            msg, event, channel = item.msg, item.event, item.channel
            if event is None:
                kept = await reject(uow, original=msg.value or b"", reasons=item.reasons,
                                    tenantid=channel or UNKNOWN_TENANT, customerid=customer_of(item.parsed),
                                    event_type=type_of(item.parsed), event_id=id_of(item.parsed), **_where(msg))
                results[i] = (type_of(item.parsed) or "unknown", Outcome.REJECTED if kept else Outcome.DUPLICATE)
                continue
            reasons = item.reasons
            if event.type == "clock.tick":
                if event.tenantid not in clocks:
                    clocks[event.tenantid] = await uow.repos.business_date(event.tenantid)
                reasons = screen(event, channel, prepared.facts, clocks[event.tenantid])
                if reasons and await uow.seen(event):
                    results[i] = (event.type, Outcome.DUPLICATE)  # a redelivered tick, not one going back
                    continue
            if reasons:
                kept = await reject(uow, original=msg.value or b"", reasons=reasons,
                                    tenantid=channel or UNKNOWN_TENANT, customerid=event.customerid,
                                    event_type=event.type, event_id=event.id, **_where(msg))
                results[i] = (event.type, Outcome.REJECTED if kept else Outcome.DUPLICATE)
                continue
            if event.type == "clock.tick":
                clocks[event.tenantid] = event.data.business_date
            passed.append((i, event))
        accepted: Counter[tuple[str, str]] = Counter()
        duplicates: Counter[tuple[str, str]] = Counter()
        now = time.time()
        latencies: list[float] = []
        for (i, event), fresh in zip(passed, await uow.claim_many([e for _, e in passed]), strict=True):
            if not fresh:
                duplicates[event.tenantid, event.type] += 1
                results[i] = (event.type, Outcome.DUPLICATE)
                continue
            if event.type == "clock.tick":
                await uow.repos.advance_clock(event.tenantid, event.data.business_date)
            msg = screened[i].msg
            uow.emit_record(forwarded(event, msg.value or b"", self._prefix))
            accepted[event.tenantid, event.type] += 1
            if msg.timestamp is not None:
                latencies.append(max(0.0, now - msg.timestamp))
            results[i] = (event.type, Outcome.APPLIED)
        metrics.LATENCY.observe_many(latencies)
        # counted per batch: a labelled child's lookup per event was a visible share of the intake
        for (tenantid, event_type), n in accepted.items():
            metrics.ACCEPTED.labels(tenantid, event_type).inc(n)
        for (tenantid, event_type), n in duplicates.items():
            metrics.DUPLICATES.labels(tenantid, event_type).inc(n)
        return [r for r in results if r is not None]
