"""Operator tools over the inputs ingest rejected (``rejected_events``): list, show, replay.

A replay produces the original bytes back to where they came in, so they go through ingest
again: useful once the client fixed its side or softcollect's configuration caught up (a
tenant that was not configured yet). Formatting is pure; the database and broker follow.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from softcollect_events import topic_name
from softcollect_runtime.db import is_postgres, sync_url, utcnow
from softcollect_runtime.kafka import make_producer
from softcollect_runtime.settings import KafkaSettings

from .domain import UNKNOWN_TENANT, customer_of
from .store import rejected_events

Rejection = Mapping  # a row of rejected_events, by column name


class OperatorError(RuntimeError):
    """Something the operator has to fix first; the message says what."""


def when(value: dt.datetime | None) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:  # SQLite hands back the UTC it was given, without the zone
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _reason_text(reason: Mapping) -> str:
    return f"{reason.get('path', '$')}: {reason.get('message', '')}"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())  # a table cell is one line
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: Sequence[Rejection], reason_width: int = 72) -> str:
    header = ("REJECTION ID", "RECEIVED AT", "TENANT", "VIA", "TYPE", "FIRST REASON", "REPLAYED")
    lines = [header] + [
        (r["rejection_id"], when(r["received_at"]), r["tenantid"], r["received_via"], r["event_type"] or "-",
         _clip(_reason_text(r["reasons"][0]) if r["reasons"] else "-", reason_width),
         when(r["replayed_at"]) if r["replayed_at"] else "no")
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def original_text(raw: bytes) -> tuple[str, str]:
    """``("UTF-8", text)`` when the bytes are text, else ``("base64", ...)``: printed either way."""
    try:
        return "UTF-8", raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(raw).decode("ascii")


def details(r: Rejection) -> str:
    lines = [f"rejection    {r['rejection_id']}",
             f"tenant       {r['tenantid']}",
             f"received     {when(r['received_at'])} via {r['received_via']}"]
    if r["topic"] is not None:
        lines.append(f"from         topic {r['topic']}, partition {r['partition']}, offset {r['offset']}")
    if r["line"] is not None:
        lines.append(f"line         {r['line']}")
    lines.append(f"event        {r['event_type'] or '(type unreadable)'} {r['event_id'] or ''}".rstrip())
    lines.append(f"replayed     {when(r['replayed_at']) if r['replayed_at'] else 'no'}")
    lines.append(f"reasons      {len(r['reasons'])}")
    lines.extend(f"  {_reason_text(reason)}" for reason in r["reasons"])
    encoding, text = original_text(bytes(r["original"]))
    lines.append(f"original     {len(r['original'])} bytes, shown as {encoding}")
    lines.append(text)
    return "\n".join(lines)


def target(r: Rejection, topic_prefix: str) -> tuple[str, bytes]:
    """Where a replay goes (topic, key): the topic it was read from, or for HTTP and CSV input
    the tenant's inbound topic, which is where those paths put what they accept."""
    if r["received_via"] == "kafka" and r["topic"]:
        topic = r["topic"]
    elif r["tenantid"] == UNKNOWN_TENANT:
        raise OperatorError(f"rejection {r['rejection_id']} came in on no tenant's channel; nowhere to replay it")
    else:
        topic = topic_name("inbound", topic_prefix, tenantid=r["tenantid"])
    try:
        parsed = json.loads(bytes(r["original"]))
    except ValueError:
        parsed = None
    return topic, f"{r['tenantid']}:{customer_of(parsed)}".encode()


# --- IO -----------------------------------------------------------------------------------


def connect(url: str, schema: str = "ingest") -> sa.Engine:
    """A blocking engine on ingest's tables: on PostgreSQL in ``schema`` (the service's name)."""
    sync = sync_url(url)
    if is_postgres(url):
        return sa.create_engine(sync, execution_options={"schema_translate_map": {None: schema}})
    path = make_url(sync).database
    if path and path != ":memory:" and not Path(path).exists():
        raise OperatorError(f"no ingest database at {path}; set SOFTCOLLECT_DATABASE_URL to ingest's database")
    return sa.create_engine(sync)


def rejections(engine: sa.Engine, *, tenant: str | None = None, limit: int | None = 50,
               include_replayed: bool = False, newest_first: bool = True) -> tuple[list[Rejection], int]:
    """The rejections asked for (open ones unless ``include_replayed``) and how many match in all."""
    t = rejected_events
    where = []
    if tenant is not None:
        where.append(t.c.tenantid == tenant)
    if not include_replayed:
        where.append(t.c.replayed_at.is_(None))
    query = sa.select(t).where(*where).order_by(t.c.id.desc() if newest_first else t.c.id)
    with engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(t).where(*where))
        rows = conn.execute(query.limit(limit) if limit is not None else query).mappings().all()
    return list(rows), total


def find(engine: sa.Engine, rejection_id: str) -> Rejection:
    """By id, or by a unique prefix of at least 8 characters (ids are long to type)."""
    t = rejected_events
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.rejection_id == rejection_id)).mappings().first()
        if row is not None:
            return row
        if len(rejection_id) >= 8:
            rows = conn.execute(sa.select(t).where(t.c.rejection_id.startswith(rejection_id, autoescape=True))
                                .limit(2)).mappings().all()
            if len(rows) == 1:
                return rows[0]
            if rows:
                raise OperatorError(f"{rejection_id!r} is the start of several rejection ids; give more of it")
    raise OperatorError(f"no rejection {rejection_id!r}")


def mark_replayed(engine: sa.Engine, rejection_ids: Sequence[str], at: dt.datetime) -> None:
    t = rejected_events
    with engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.rejection_id.in_(rejection_ids)).values(replayed_at=at))


async def produce(kafka: KafkaSettings, records: Sequence[tuple[str, bytes, bytes]]) -> None:
    """(topic, key, value) each, in order; returns once the broker acknowledged every one."""
    producer = make_producer(kafka, client_id="softcollect-replay")
    try:
        await producer.start()
        acks = [await producer.send(topic, value=value, key=key) for topic, key, value in records]
        for ack in acks:
            await ack
    finally:
        await producer.stop()


def replay(engine: sa.Engine, rows: Sequence[Rejection], kafka: KafkaSettings, topic_prefix: str) -> list[str]:
    """Produce each original again and mark it replayed; returns the target topic of each."""
    records = [(*target(r, topic_prefix), bytes(r["original"])) for r in rows]
    # Acked first, marked after: a crash in between leaves the row open, and replaying again what
    # ingest meanwhile accepted has no second effect (it deduplicates by source and id).
    asyncio.run(produce(kafka, records))
    mark_replayed(engine, [r["rejection_id"] for r in rows], utcnow())
    return [topic for topic, _, _ in records]
