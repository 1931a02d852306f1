"""Ingest's work on each inbound message: decode, screen, then forward or reject — in one
unit of work, so a forwarded event, its deduplication row and a clock advance commit together."""

from __future__ import annotations

import base64
import datetime as dt

from softcollect_events import CloudEvent, DecodeError, Reason, decode, deterministic_id, new_event
from softcollect_runtime.dlq import RawMessage
from softcollect_runtime.processing import Outcome
from softcollect_runtime.uow import UnitOfWork

from . import metrics
from .config import TenantDirectory
from .domain import UNKNOWN_TENANT, customer_of, id_of, screen, tenant_of_topic, type_of
from .store import IngestRepository

SOURCE = "softcollect/ingest"


async def reject(uow: UnitOfWork[IngestRepository], *, original: bytes, reasons: list[Reason], tenantid: str,
                 customerid: str, via: str, when: dt.datetime, rejection_id: str, topic: str | None = None,
                 partition: int | None = None, offset: int | None = None, line: int | None = None,
                 event_type: str | None = None, event_id: str | None = None) -> bool:
    """Keep a rejected input (table + ``event.rejected``); False when this very input was already kept."""
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


def make_intake(tenants: TenantDirectory, topic_prefix: str, max_event_bytes: int):
    async def intake(msg: RawMessage, uow: UnitOfWork[IngestRepository]) -> Outcome:
        channel = tenant_of_topic(msg.topic, topic_prefix)
        when = msg.received_at
        rejection_id = deterministic_id("rejected", msg.topic, str(msg.partition), str(msg.offset))
        raw = msg.value or b""
        try:
            if len(raw) > max_event_bytes:
                raise DecodeError([Reason(path="$", message=(
                    f"the event is {len(raw)} bytes; at most {max_event_bytes} bytes are accepted"))])
            event = decode(raw)
        except DecodeError as err:
            kept = await reject(uow, original=raw, reasons=err.reasons, tenantid=channel or UNKNOWN_TENANT,
                                customerid=customer_of(err.parsed), via="kafka", when=when,
                                rejection_id=rejection_id, topic=msg.topic, partition=msg.partition,
                                offset=msg.offset, event_type=type_of(err.parsed), event_id=id_of(err.parsed))
            return Outcome.REJECTED if kept else Outcome.DUPLICATE
        outcome = await admit(uow, event, raw, channel, tenants, via="kafka", when=when, rejection_id=rejection_id,
                              topic=msg.topic, partition=msg.partition, offset=msg.offset)
        if outcome is Outcome.APPLIED:
            metrics.LATENCY.observe(max(0.0, (dt.datetime.now(dt.UTC) - when).total_seconds()))
        return outcome

    return intake


async def admit(uow: UnitOfWork[IngestRepository], event: CloudEvent, raw: bytes, channel: str | None,
                tenants: TenantDirectory, *, via: str, when: dt.datetime, rejection_id: str, **where) -> Outcome:
    """Screen a well-formed event; forward it to its canonical topic, or reject it."""
    last = await uow.repos.business_date(event.tenantid) if event.type == "clock.tick" else None
    reasons = screen(event, channel, tenants.facts(channel), last)
    if reasons:
        kept = await reject(uow, original=raw, reasons=reasons, tenantid=channel or UNKNOWN_TENANT,
                            customerid=event.customerid, via=via, when=when, rejection_id=rejection_id,
                            event_type=event.type, event_id=event.id, **where)
        return Outcome.REJECTED if kept else Outcome.DUPLICATE
    if not await uow.claim(event):
        metrics.DUPLICATES.labels(event.tenantid, event.type).inc()
        return Outcome.DUPLICATE
    if event.type == "clock.tick":
        await uow.repos.advance_clock(event.tenantid, event.data.business_date)
    uow.emit(event)  # the canonical topic of its type, unchanged but normalised (upcast, canonical JSON)
    metrics.ACCEPTED.labels(event.tenantid, event.type).inc()
    return Outcome.APPLIED
