"""``softcollect demo``: play the demo portfolio through the running stack, day by day, and
print what came out. Each business day's events go in, then its clock.tick; the next day
starts once every running service has caught up (no consumer lag)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from softcollect_events import REGISTRY, Topic, topic_name
from softcollect_runtime.kafka import make_producer
from softcollect_runtime.settings import KafkaSettings

from . import portfolio
from .stack import consumed_topics

PREFIX = "softcollect."


async def _lag(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str, topics: list[str]) -> int:
    committed = await admin.list_consumer_group_offsets(group)
    tps = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
    ends = await consumer.end_offsets(tps) if tps else {}
    return sum(max(0, end - (committed[tp].offset if tp in committed else 0)) for tp, end in ends.items())


class Progress:
    """Consumer lag of every running service, from one admin client and one metadata consumer."""

    def __init__(self, kafka: KafkaSettings, services: list[str], tenants: list[str]) -> None:
        self._topics = {s: consumed_topics(s, PREFIX, tenants) for s in services}
        self._admin = AIOKafkaAdminClient(**kafka.aiokafka_options())
        self._consumer = AIOKafkaConsumer(*{t for ts in self._topics.values() for t in ts}, group_id=None,
                                          **kafka.aiokafka_options())

    async def __aenter__(self) -> Progress:
        await self._admin.start()
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def wait_caught_up(self, timeout: float = 120) -> None:
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 2:  # twice in a row: an outbox may still be publishing after its offset commit
            lags = {s: await _lag(self._admin, self._consumer, f"{PREFIX}{s}", ts) for s, ts in self._topics.items()}
            quiet = quiet + 1 if not any(lags.values()) else 0
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: services still behind after {timeout:.0f} s: {lags}")
            await asyncio.sleep(0.1)


async def _play(state: dict, days: int) -> None:
    kafka = KafkaSettings(bootstrap_servers=state["bootstrap_servers"])
    producer = make_producer(kafka, "softcollect-demo")
    inbound = topic_name(Topic.inbound, PREFIX, tenantid=portfolio.TENANT)
    await producer.start()
    try:
        calendar = portfolio.build(days)
        print(f"demo: playing {sum(len(d.events) for d in calendar)} events over {len(calendar)} business days "
              f"({calendar[0].business_date} → {calendar[-1].business_date}) for tenant '{portfolio.TENANT}'")
        async with Progress(kafka, list(state["services"]), [portfolio.TENANT]) as progress:
            for day in calendar:
                for ev in day.events:
                    await producer.send(inbound, key=f"{ev['tenantid']}:{ev['customerid']}".encode(),
                                        value=json.dumps(ev).encode())
                await producer.flush()
                await progress.wait_caught_up()
    finally:
        await producer.stop()
    await report(kafka)
    if "aging" in state["services"]:
        import argparse

        from .aging_commands import run as aging_report

        print()
        aging_report(argparse.Namespace(tenant=portfolio.TENANT, as_of=calendar[-1].business_date, csv=False,
                                        schema=None))


async def _read(kafka: KafkaSettings, topic: str) -> list[dict]:
    consumer = AIOKafkaConsumer(topic, group_id=None, auto_offset_reset="earliest", **kafka.aiokafka_options())
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(tps)
        out: list[dict] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += [json.loads(r.value) for r in records]
        return [e for e in out if e.get("tenantid") == portfolio.TENANT]
    finally:
        await consumer.stop()


async def report(kafka: KafkaSettings) -> None:
    print("\nWhat came out, topic by topic:")
    for topic in sorted({e.topic for e in REGISTRY.values()}, key=lambda t: t.value):
        events = await _read(kafka, topic_name(topic, PREFIX))
        if not events:
            continue
        counts = Counter(e["type"] for e in events)
        print(f"  {topic_name(topic, PREFIX):28} " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items())))
    print("\nHighlights:")
    for topic in (Topic.receivables, Topic.positions):
        for e in await _read(kafka, topic_name(topic, PREFIX)):
            if line := _highlight(e):
                print(f"  {e['time'][:10]}  {e['customerid']:10}  {line}")
    rejected = await _read(kafka, topic_name(Topic.rejected, PREFIX))
    for r in rejected:
        original = json.loads(base64.b64decode(r["data"]["original"]))
        reasons = "; ".join(f"{x['path']}: {x['message']}" for x in r["data"]["reasons"])
        print(f"\n  rejected {original.get('type')} {original.get('id')} — {reasons}")


def _highlight(e: dict) -> str | None:
    d = e["data"]
    if e["type"] == "payment.applied":
        parts = ", ".join(f"{a['invoice_id']} {a['amount']}" for a in d["allocations"])
        return f"payment {d['payment_id']} applied by {d['method']}: {parts or '-'}; unapplied {d['unapplied']}"
    if e["type"] == "payment.unmatched":
        return f"payment {d['payment_id']} {d['amount']} unmatched ({d['reason']}): kept on account"
    if e["type"] == "receivable.phase_changed" and d["to"] in ("just_expired", "handed_over", "settled"):
        item = d["invoice_id"] + (f"#{d['installment']}" if d.get("installment") else "")
        return f"{item} {d['from']} → {d['to']} ({d['days_past_due']} days past due, open {d['open_amount']})"
    if e["type"] in ("customer.locked", "customer.unlocked"):
        return f"{e['type'].split('.')[1]}: {d['reason']} (overdue {d['overdue_amount']})"
    return None


def play(state: dict, days: int = 60) -> int:
    asyncio.run(_play(state, days))
    return 0
