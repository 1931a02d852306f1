"""``softcollect demo``: play the demo portfolio through the running stack, day by day, and
print what came out. Each day starts with its clock.tick (as a live tenant's clock ticks at the
start of its business day), then that day's events go in; each step waits until every running
service has caught up: no consumer lag, the tick taken by aging and reminders
(their ``tenant_days``), and reminders' mail queue drained (no ``pending``/``sending`` row in
its ``messages``), so the day's e-mails are in the stack's SMTP sink."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from softcollect_events import REGISTRY, Topic, topic_name
from softcollect_runtime.db import is_postgres, resolve_url, sync_url
from softcollect_runtime.kafka import make_producer
from softcollect_runtime.settings import KafkaSettings

from . import portfolio
from .stack import consumed_topics

PREFIX = "softcollect."


class ServiceTables:
    """Read-only look at the services' own tables in the stack's database (SQLite files under
    the stack's home by default; with PostgreSQL each service's schema is its name)."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._engines: dict[str, sa.Engine] = {}

    def _engine(self, service: str) -> sa.Engine:
        if service not in self._engines:
            url = resolve_url(self._url, service)
            engine = sa.create_engine(sync_url(url))
            if is_postgres(url):
                @sa.event.listens_for(engine, "connect")
                def _search_path(dbapi_conn, _record, schema=service):
                    cur = dbapi_conn.cursor()
                    cur.execute(f'SET search_path TO "{schema}"')
                    cur.close()
                    dbapi_conn.commit()
            self._engines[service] = engine
        return self._engines[service]

    def rows(self, service: str, sql: str, **params: Any) -> list[Any]:
        """The rows of a query; [] while the service's tables do not exist yet."""
        try:
            with self._engine(service).connect() as conn:
                return list(conn.execute(sa.text(sql), params))
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            return []

    def business_date(self, service: str, tenantid: str) -> dt.date | None:
        """The last tick the service took for the tenant."""
        rows = self.rows(service, "SELECT business_date FROM tenant_days WHERE tenantid = :t", t=tenantid)
        return dt.date.fromisoformat(str(rows[0][0])[:10]) if rows else None

    def mail_queue(self, tenantid: str) -> tuple[int, str | None]:
        """Reminders' messages still to send (`pending` or `sending`) and the last error among them."""
        rows = self.rows("reminders", "SELECT status, last_error FROM messages WHERE tenantid = :t "
                         "AND status IN ('pending', 'sending')", t=tenantid)
        return len(rows), next((r[1] for r in rows if r[1]), None)

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


class Progress:
    """Whether every running service has caught up: consumer lag of each (one admin client, one
    metadata consumer) and, for aging and reminders, their own tables."""

    def __init__(self, kafka: KafkaSettings, services: list[str], tenants: list[str], tables: ServiceTables) -> None:
        self._topics = {s: consumed_topics(s, PREFIX, tenants) for s in services}
        self._tenant = tenants[0]
        self._tables = tables
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

    async def lags(self) -> dict[str, int]:
        """Messages each service's group has not committed yet, on the topics it consumes."""
        tps = {s: [TopicPartition(t, p) for t in ts for p in (self._consumer.partitions_for_topic(t) or ())]
               for s, ts in self._topics.items()}
        ends = await self._consumer.end_offsets([tp for group in tps.values() for tp in group])
        committed = await asyncio.gather(*(self._admin.list_consumer_group_offsets(f"{PREFIX}{s}") for s in tps))
        return {s: sum(max(0, ends[tp] - (c[tp].offset if tp in c else 0)) for tp in tps[s])
                for s, c in zip(tps, committed, strict=True)}

    def _behind_in_tables(self, ticked: dt.date | None) -> list[str]:
        behind = []
        for service in ("aging", "reminders"):
            if service in self._topics and (day := self._tables.business_date(service, self._tenant)) != ticked:
                behind.append(f"{service} at {day} (tick {ticked})")
        if "reminders" in self._topics:
            queued, error = self._tables.mail_queue(self._tenant)
            if queued:
                behind.append(f"reminders: {queued} e-mail(s) still to send" + (f" (last error: {error})"
                                                                                  if error else ""))
        return behind

    async def wait_caught_up(self, ticked: dt.date | None, timeout: float = 120) -> None:
        """Until no lag, `ticked` is aging's and reminders' business date and no e-mail waits."""
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 2:  # twice in a row: an outbox may still be publishing after its offset commit
            lags = await self.lags()
            behind = [f"{s} lag {n}" for s, n in lags.items() if n]
            if not behind:
                behind = await asyncio.to_thread(self._behind_in_tables, ticked)
            quiet = quiet + 1 if not behind else 0
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: services still behind after {timeout:.0f} s: {'; '.join(behind)}")
            await asyncio.sleep(0.05)


async def _play(state: dict, days: int) -> None:
    kafka = KafkaSettings(bootstrap_servers=state["bootstrap_servers"])
    producer = make_producer(kafka, "softcollect-demo")
    inbound = topic_name(Topic.inbound, PREFIX, tenantid=portfolio.TENANT)
    tables = ServiceTables(state["database_url"])
    started = time.monotonic()

    async def send(events: list[dict]) -> None:
        for ev in events:
            await producer.send(inbound, key=f"{ev['tenantid']}:{ev['customerid']}".encode(),
                                value=json.dumps(ev).encode())
        await producer.flush()

    await producer.start()
    try:
        calendar = portfolio.build(days)
        business = sum(1 for d in calendar if d.business)
        print(f"demo: playing {sum(len(d.events) for d in calendar)} events over {business} business days "
              f"({calendar[0].business_date} → {calendar[-1].business_date}, a clock.tick every calendar day) "
              f"for tenant '{portfolio.TENANT}'")
        async with Progress(kafka, list(state["services"]), [portfolio.TENANT], tables) as progress:
            for day in calendar:
                # The tick opens the day (the day's e-mails go out), then what the client sent that day.
                await send([e for e in day.events if e["type"] == "clock.tick"])
                ticked = day.business_date
                await progress.wait_caught_up(ticked)
                if events := [e for e in day.events if e["type"] != "clock.tick"]:
                    await send(events)
                    await progress.wait_caught_up(ticked)
    finally:
        await producer.stop()
    print(f"demo: played in {time.monotonic() - started:.0f} s")
    try:
        await report(kafka, state)
    finally:
        tables.dispose()
    if "aging" in state["services"]:
        import argparse

        from .aging_commands import run as aging_report

        print()
        last = max(d.business_date for d in calendar if d.business)
        aging_report(argparse.Namespace(tenant=portfolio.TENANT, as_of=last, csv=False, schema=None))


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


async def report(kafka: KafkaSettings, state: dict | None = None) -> None:
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
    if state is not None and "reminders" in state.get("services", {}):
        outcomes = await _read(kafka, topic_name(Topic.reminders, PREFIX))
        settled = [e for e in await _read(kafka, topic_name(Topic.receivables, PREFIX))
                   if e["type"] == "receivable.settled"]
        print()
        print("\n".join(reminders_summary(outcomes, settled)))
        if sink := state.get("smtp_sink"):
            print()
            print("\n".join(mail_listing(Path(sink["dir"]), outcomes)))


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


def _tally(rows: list[tuple[str, str]]) -> list[str]:
    """`(key, customer)` pairs as lines: key, count, the customers concerned."""
    counts: Counter[str] = Counter(k for k, _ in rows)
    who: dict[str, set[str]] = defaultdict(set)
    for k, customer in rows:
        who[k].add(customer)
    return [f"    {k:22} {n:3}  {', '.join(sorted(who[k]))}" for k, n in counts.most_common()] or ["    none"]


def _day(iso: str) -> str:
    """`2026-01-10` → `Sat 2026-01-10`."""
    return f"{dt.date.fromisoformat(iso[:10]):%a %Y-%m-%d}"


def _step(e: dict) -> str:
    return "statement" if e["type"] == "statement.sent" else e["data"]["step"]


def reminders_summary(outcomes: list[dict], settled: list[dict] = (), examples: int = 4) -> list[str]:
    """What reminders did: e-mails per step, suppressions per reason, tasks per kind, a few
    weekend/holiday deferrals followed by their e-mail, the invoices whose reminding a payment
    ended (`settled`: aging's `receivable.settled`), resubmission requests."""
    by_type: dict[str, list[dict]] = defaultdict(list)
    for e in outcomes:
        by_type[e["type"]].append(e)
    written = by_type["reminder.sent"] + by_type["statement.sent"]
    lines = ["Reminders (softcollect.reminders):", "  e-mails sent, per step:"]
    lines += _tally([(_step(e), e["customerid"]) for e in written])
    lines.append("  steps suppressed, per reason:")
    lines += _tally([(e["data"]["reason"], e["customerid"]) for e in by_type["reminder.suppressed"]])
    lines.append("  tasks created, per kind:")
    lines += _tally([(e["data"]["kind"], e["customerid"]) for e in by_type["task.created"]])
    sent = {(e["customerid"], _step(e), e["time"][:10]) for e in written}
    deferred = sorted({(e["time"][:10], e["customerid"], e["data"]["step"], e["data"]["until"])
                       for e in by_type["reminder.suppressed"]
                       if e["data"]["reason"] == "non_business_day" and e["data"].get("until")
                       and (e["customerid"], e["data"]["step"], e["data"]["until"]) in sent})
    if deferred:
        lines.append("  e-mails deferred from a weekend or holiday (non_business_day), e.g.:")
        lines += [f"    {customer:10} {step:16} due {_day(day)} → sent {_day(until)}"
                  for day, customer, step, until in deferred[:examples]]
    stopped = []
    for e in sorted(settled, key=lambda e: e["data"]["settled_on"]):
        invoice, on = e["data"]["invoice_id"], e["data"]["settled_on"]
        about = sorted((m["time"][:10], _step(m)) for m in written
                        if m["customerid"] == e["customerid"] and invoice in m["data"]["invoice_ids"])
        before = [a for a in about if a[0] <= on]
        if before:
            after = len(about) - len(before)
            stopped.append(f"    {e['customerid']:10} {invoice:10} paid, settled {_day(on)} after {len(before)} "
                           f"e-mail(s), the last {before[-1][1]} of {_day(before[-1][0])}; "
                           + (f"{after} e-mail(s) after it!" if after else "none about it since"))
    if stopped:
        lines.append("  reminding ended by a payment:")
        lines += stopped
    if resubmissions := by_type["invoice.resubmission_requested"]:
        lines.append("  invoice resubmission requested: " + ", ".join(
            f"{e['data']['invoice_id']} ({e['time'][:10]})" for e in resubmissions))
    if failed := by_type["reminder.failed"]:
        lines.append(f"  sending failed: {len(failed)} attempt(s) — " + "; ".join(
            sorted({e["data"].get("error", "?") for e in failed})))
    return lines


def mail_listing(directory: Path, outcomes: list[dict], excerpts: int = 2, excerpt_lines: int = 24) -> list[str]:
    """Each e-mail the stack's SMTP sink stored (business date, recipient, step, subject), then the
    first lines of the text of two of them: the first one, and the first in another language
    (one with the statement attached if there is one)."""
    from softcollect_reminders.smtp_sink import read_sink

    mails = read_sink(directory)
    lines = [f"E-mails in the local SMTP sink ({len(mails)} in {directory}):"]
    if not mails:
        return [*lines, "    none"]
    lines.append(f"    {'as of':14}  {'to':34} {'step':16} subject")
    for m in mails:
        # the reference (also in X-Softcollect-Reference) makes every subject long: not repeated here
        ref = re.escape(str(m["X-Softcollect-Reference"] or "-"))
        subject = re.sub(rf"\s*\([^()]*{ref}[^()]*\)", "", str(m["Subject"]))
        subject = subject if len(subject) <= 80 else subject[:79] + "…"
        lines.append(f"    {_day(m['X-Softcollect-As-Of'])}  {str(m['To']):34} {m['X-Softcollect-Step']:16} {subject}")
    language = {e["data"]["message_id"]: e["data"].get("language") for e in outcomes
                if e["type"] == "reminder.sent"}

    def lang(m: Any) -> str | None:
        return language.get(str(m["Message-ID"]).strip())

    shown = [mails[0]]
    others = [m for m in mails if lang(m) != lang(mails[0])]
    if others and excerpts > 1:
        shown.append(next((m for m in others if any(True for _ in m.iter_attachments())), others[0]))
    for m in shown:
        body = m.get_body(preferencelist=("plain",))
        text = body.get_content().strip().splitlines() if body is not None else []
        attached = [a.get_filename() for a in m.iter_attachments()]
        lines += ["", f"  {_day(m['X-Softcollect-As-Of'])} to {m['To']} — {m['X-Softcollect-Step']}",
                  f"  Subject: {m['Subject']}"]
        if attached:
            lines.append(f"  Attached: {', '.join(attached)}")
        lines += [f"  | {line}" for line in text[:excerpt_lines]]
        if len(text) > excerpt_lines:
            more = len(text) - excerpt_lines
            lines.append(f"  | … ({more} more line{'s' if more > 1 else ''})")
    return lines


def play(state: dict, days: int = 60) -> int:
    asyncio.run(_play(state, days))
    return 0
