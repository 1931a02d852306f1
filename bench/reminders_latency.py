"""Latency from a ``payment.received`` entering ingest to the reminders service knowing it, at 50% of
the pipeline's maximum rate, with ingest, aging and reminders running as the real service processes.

    .venv/bin/python bench/reminders_latency.py [--debtors N] [--flood M] [--paced P] [--share 0.5]

One fresh topic prefix (``bench<hex>.``, the catalogue of the three services and the tenant's inbound
topic, created as ``ingest_throughput.py`` does), a fresh PostgreSQL schema per service, a temporary
config directory with one simulated tenant (``bench``), SMTP pointed at a port nothing listens on (no
tick of this run decides anything to send). In order:

- setup: a ``clock.tick``, then per debtor a ``customer.upserted`` and one ``invoice.issued`` (due 60
  days after the tick, so nothing is due for a reminder), all through ingest's inbound topic; waits
  until reminders knows every debtor's item and contact and every outbox is empty;
- flood: M payments (one per debtor, the invoice's full amount, naming it) produced as fast as the
  producer takes them. **Maximum rate = M ÷ (first payment produced → last of them known to reminders)**;
- paced: P payments to other debtors at ``share`` (50%) of that rate, on a fixed schedule (deadlines
  from one start time, so no drift); the latency of each one is reported as percentiles.

"Reminders knowing it" is the first version of the debtor's row in reminders' ``debtors`` table whose
``state`` shows the item ``settled``; the time is that row version's ``updated_at`` (stamped by reminders'
repository as it writes the batch, just before the COMMIT). An AFTER INSERT OR UPDATE trigger the
benchmark adds to that table in its own schema records that version (so the benchmark needs no polling
of the views, and a later write of the same row cannot hide the first). **Latency = updated_at − the
wall-clock time the benchmark handed the payment to its producer** (same machine, same clock).
Figures go to ``bench/results/reminders_latency.json``; what each figure measures: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import math
import os
import platform
import pstats
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from ingest_throughput import (
    DEFAULT_PG,
    REPO,
    ServiceProcess,
    code_state,
    cpu_seconds,
    drop_schema,
    drop_topics,
    free_port,
    read_all,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from softcollect_events import TENANT_CUSTOMERID, KafkaRecord, Topic, all_topics, encode, new_event, topic_name
from softcollect_reminders.app import MIGRATIONS as REMINDERS_MIGRATIONS
from softcollect_runtime.db import create_engine, migrate, sync_url
from softcollect_runtime.kafka import ensure_topics, make_producer
from softcollect_runtime.settings import KafkaSettings

RESULTS = Path(__file__).resolve().parent / "results" / "reminders_latency.json"
TENANT = "bench"
SOURCE = "erp/bench"
PARTITIONS = 6
SERVICES = ("ingest", "aging", "reminders")
DAY = dt.date(2024, 6, 4)  # the tenant's business date (a Tuesday), from the setup's tick
DUE = DAY + dt.timedelta(days=60)  # next reminder step (delivery check, -15) is 45 days away
STALL_SECONDS = 120.0  # no progress for this long fails the run
POLL_SECONDS = 0.25


# --- the service processes ---------------------------------------------------------------------------

def socket_ports(pid: int, remote_port: int) -> set[int]:
    """Local ports of a process's TCP connections to `remote_port` (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            f = line.split()
            if f[9] in inodes and int(f[2].rsplit(":", 1)[1], 16) == remote_port:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


class CpuMeter:
    """CPU seconds of each service process and of the PostgreSQL backends serving it (a local server)."""

    def __init__(self, procs: list[ServiceProcess], monitor: AsyncEngine, database_url: str) -> None:
        self.procs, self.monitor = procs, monitor
        url = make_url(database_url)
        self.pg_port = url.port or 5432
        self.local = url.host in ("127.0.0.1", "localhost", "::1")

    async def sample(self) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {}
        for p in self.procs:
            out[p.name] = {p.proc.pid: p.cpu()}
            if not self.local:
                continue
            try:
                ports = socket_ports(p.proc.pid, self.pg_port)
                async with self.monitor.connect() as conn:
                    pids = (await conn.scalars(sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(:ports)"),
                        {"ports": list(ports)})).all()
                out[f"{p.name}_postgres"] = {pid: cpu_seconds(pid) for pid in pids}
            except OSError:
                pass
        return out

    @staticmethod
    def delta(before: dict, after: dict) -> dict[str, float]:
        """Per process (group): CPU used between two samples (a backend that appeared counts from zero)."""
        return {k: round(sum(t - before.get(k, {}).get(pid, 0.0) for pid, t in v.items()), 2)
                for k, v in after.items()}


# --- workload --------------------------------------------------------------------------------------

def customer(d: int) -> str:
    return f"D{d:06d}"


def amount(d: int) -> str:
    cents = random.Random(d).randrange(100_00, 5000_00)
    return f"{cents // 100}.{cents % 100:02d}"


def event(type_: str, customerid: str, data: dict) -> object:
    return new_event(type_, data, source=SOURCE, tenantid=TENANT, customerid=customerid,
                     time=dt.datetime.now(dt.UTC), id=str(uuid.uuid4()))


def setup_events(debtors: int) -> list:
    out = []
    for d in range(debtors):
        out.append(event("customer.upserted", customer(d), {
            "name": f"Bench debtor {d}", "emails": [f"ap{d}@debtor.example"], "language": "it" if d % 3 else "en",
            "country": "IT", "currency": "EUR", "credit_limit": "50000.00"}))
        out.append(event("invoice.issued", customer(d), {
            "invoice_id": f"INV-{d:07d}", "number": f"B/{d}", "issue_date": (DUE - dt.timedelta(days=90)).isoformat(),
            "due_date": DUE.isoformat(), "currency": "EUR", "amount": amount(d)}))
    return out


def payment(d: int, prefix: str) -> KafkaRecord:
    ev = event("payment.received", customer(d), {
        "payment_id": f"PAY-{d:07d}", "amount": amount(d), "currency": "EUR", "value_date": DAY.isoformat(),
        "invoice_refs": [f"B/{d}"], "remittance": f"Saldo fattura B/{d}", "method": "bank_transfer"})
    return encode(ev, prefix, topic=Topic.inbound)


# --- the benchmark's view of the databases ------------------------------------------------------------

def add_settled_log(database_url: str, schema: str) -> None:
    """In the run's reminders schema: a table and a trigger recording, per debtor, the first row
    version of `debtors` whose state shows an item settled (its `updated_at`, and when it was written)."""
    s = f'"{schema}"'
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {s}.bench_settled (customerid varchar(64) PRIMARY KEY, "
                                 "updated_at timestamptz NOT NULL, written_at timestamptz NOT NULL)"))
            conn.execute(sa.text(f"""
                CREATE FUNCTION {s}.bench_log_settled() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM json_array_elements(NEW.state->'items') AS i
                               WHERE i->>'phase' = 'settled') THEN
                        INSERT INTO {s}.bench_settled VALUES (NEW.customerid, NEW.updated_at, clock_timestamp())
                        ON CONFLICT DO NOTHING;
                    END IF;
                    RETURN NULL;
                END $$"""))
            conn.execute(sa.text(f"CREATE TRIGGER bench_settled AFTER INSERT OR UPDATE ON {s}.debtors "
                                 f"FOR EACH ROW EXECUTE FUNCTION {s}.bench_log_settled()"))
    finally:
        engine.dispose()


class Views:
    """Async reads of the services' schemas (one small pool each)."""

    def __init__(self, database_url: str, schemas: dict[str, str]) -> None:
        self.engines = {name: create_engine(database_url, schema, pool_size=1) for name, schema in schemas.items()}

    async def scalar(self, service: str, sql: str, **params) -> object:
        try:
            async with self.engines[service].connect() as conn:
                return await conn.scalar(sa.text(sql), params)
        except sa.exc.ProgrammingError:  # tables not there yet
            return None

    async def rows(self, service: str, sql: str, **params) -> list:
        async with self.engines[service].connect() as conn:
            return list(await conn.execute(sa.text(sql), params))

    async def outbox_rows(self) -> int:
        return sum([await self.scalar(s, "SELECT count(*) FROM outbox") or 0 for s in SERVICES])

    async def dispose(self) -> None:
        for e in self.engines.values():
            await e.dispose()


async def until(what: str, progress, done, procs: list[ServiceProcess], stall: float = STALL_SECONDS) -> None:
    """Poll `progress()` (a number) until `done(value)`; fail when it does not move for `stall` seconds."""
    seen, deadline = None, time.monotonic() + stall
    while True:
        value = await progress()
        if done(value):
            return
        if value != seen:
            seen, deadline = value, time.monotonic() + stall
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in procs)
            raise RuntimeError(f"{what}: stalled at {value}\n{logs}")
        for p in procs:
            p.check_alive()
        await asyncio.sleep(POLL_SECONDS)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def latency_figures(ms: list[float]) -> dict:
    s = sorted(ms)
    return {"count": len(s), "p50_ms": percentile(s, 50), "p90_ms": percentile(s, 90), "p99_ms": percentile(s, 99),
            "max_ms": s[-1], "min_ms": s[0], "mean_ms": sum(s) / len(s)}


async def settled_since(views: Views, produced: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """For the given debtors: (latency ms from produced to the settled row version's updated_at,
    updated_at as epoch seconds)."""
    rows = await views.rows("reminders", "SELECT customerid, updated_at FROM bench_settled "
                                         "WHERE customerid = ANY(:ids)", ids=list(produced))
    at = {c: u.timestamp() for c, u in rows}
    return {c: 1000 * (at[c] - produced[c]) for c in at}, at


# --- phases -------------------------------------------------------------------------------------------

async def flood(producer, inbound: str, records: list[tuple[str, KafkaRecord]]) -> dict[str, float]:
    """Every record as fast as the producer takes it; returns when each was handed over (epoch seconds)."""
    produced, acks = {}, []
    for c, r in records:
        produced[c] = time.time()
        acks.append(await producer.send(inbound, value=r.value, key=r.key, headers=r.headers))
    await asyncio.gather(*acks)
    return produced


async def paced(producer, inbound: str, records: list[tuple[str, KafkaRecord]], rate: float) -> tuple[dict, list]:
    """One record every 1/rate seconds on a fixed schedule (deadline i = start + i/rate: no drift).
    Returns when each was handed over and how late each send was against its deadline."""
    produced, late, acks = {}, [], []
    start = time.monotonic() + 0.1
    for i, (c, r) in enumerate(records):
        deadline = start + i / rate
        if (wait := deadline - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        late.append(time.monotonic() - deadline)
        produced[c] = time.time()
        acks.append(await producer.send(inbound, value=r.value, key=r.key, headers=r.headers))
    await asyncio.gather(*acks)
    return produced, late


async def hops(kafka: KafkaSettings, prefix: str, produced: dict[str, float], known: dict[str, float]) -> dict:
    """Per payment, the time spent in each hop, from the broker timestamps (CreateTime, stamped by each
    service's outbox relay as it sends): produced → ingest forwarded it to the payments topic → aging sent
    its `receivable.settled` → reminders wrote the settled view (updated_at)."""
    def customer_of(record) -> str:
        return record.key.decode().split(":", 1)[1]

    forwarded, settled = {}, {}
    for r in await read_all(kafka, [topic_name(Topic.payments, prefix)]):
        forwarded.setdefault(customer_of(r), r.timestamp / 1000)
    for r in await read_all(kafka, [topic_name(Topic.receivables, prefix)]):
        if dict(r.headers).get("ce_type") == b"receivable.settled":
            settled.setdefault(customer_of(r), r.timestamp / 1000)
    ids = [c for c in produced if c in forwarded and c in settled and c in known]
    return {
        "payments": len(ids),
        "ingest_ms": latency_figures([1000 * (forwarded[c] - produced[c]) for c in ids]),
        "aging_ms": latency_figures([1000 * (settled[c] - forwarded[c]) for c in ids]),
        "reminders_ms": latency_figures([1000 * (known[c] - settled[c]) for c in ids]),
    }


async def batches(views: Views, since: float, until: float) -> dict:
    """Per service, the transactions that took in events between two times: each batch claims its events
    with one `processed_at`, so the distinct values count the batches (one transaction each). For reminders
    also how long its batches took from the claim to the write of the views (their `updated_at`, one stamp
    per batch): the share of the window it was busy with a batch, the rest it waited for input."""
    out = {}
    lo, hi = (dt.datetime.fromtimestamp(t, dt.UTC) for t in (since, until))
    for service in SERVICES:
        claims = await views.rows(service, """
            SELECT processed_at, count(*) FROM processed_events WHERE processed_at BETWEEN :lo AND :hi
            GROUP BY processed_at ORDER BY processed_at""", lo=lo, hi=hi)
        sizes = sorted(n for _, n in claims)
        out[service] = {"events": sum(sizes), "batches": len(sizes),
                        "events_per_batch": {"mean": sum(sizes) / len(sizes), "p50": percentile(sizes, 50),
                                             "max": sizes[-1]} if sizes else None}
        if service == "reminders" and claims:
            flushes = sorted({u for (u,) in await views.rows(service, """
                SELECT updated_at FROM debtors WHERE updated_at BETWEEN :lo AND :hi
                UNION SELECT updated_at FROM bench_settled WHERE updated_at BETWEEN :lo AND :hi""",
                lo=lo, hi=hi + dt.timedelta(seconds=5))})
            busy, j = [], 0
            starts = [c for c, _ in claims] + [dt.datetime.max.replace(tzinfo=dt.UTC)]
            for i, start in enumerate(starts[:-1]):
                while j < len(flushes) and flushes[j] < start:
                    j += 1
                if j < len(flushes) and flushes[j] < starts[i + 1]:
                    busy.append((flushes[j] - start).total_seconds())
            out[service]["claim_to_write_ms"] = {"batches_paired": len(busy), "mean": 1000 * sum(busy) / len(busy),
                                                 "p50": 1000 * percentile(sorted(busy), 50)} if busy else None
            out[service]["busy_share_of_window"] = sum(busy) / (until - since)
    return out


async def end_offsets(kafka: KafkaSettings, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(group_id=None, **kafka.aiokafka_options())
    await consumer.start()
    try:
        return sum((await consumer.end_offsets([TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]))
                   .values())
    finally:
        await consumer.stop()


async def bench(debtors: int, flood_n: int, paced_n: int, share: float, database_url: str,
                profile: str | None = None) -> dict:
    if flood_n + paced_n > debtors:
        raise SystemExit(f"--flood + --paced ({flood_n + paced_n}) must not exceed --debtors ({debtors})")
    kafka = KafkaSettings()
    run_id = uuid.uuid4().hex[:10]
    prefix = f"bench{run_id}."
    schemas = {s: f"bench_{s}_{run_id}" for s in SERVICES}
    tmp = Path(tempfile.mkdtemp(prefix="softcollect-bench-"))
    (tmp / "config" / "tenants").mkdir(parents=True)
    (tmp / "config" / "tenants" / f"{TENANT}.yaml").write_text(
        "name: Bench S.r.l.\nsimulated: true\ncountry: IT\nlanguage: it\n")
    inbound = topic_name(Topic.inbound, prefix, TENANT)
    procs = [ServiceProcess(s, tmp, prefix, database_url, schemas[s],
                            {"SOFTCOLLECT_SMTP_PORT": str(free_port())} if s == "reminders" else None,
                            tmp / f"{s}.prof" if s == profile else None)
             for s in SERVICES]
    views = Views(database_url, schemas)
    meter = CpuMeter(procs, views.engines["reminders"], database_url)
    load_avg, code = {"start": os.getloadavg()}, code_state()  # the code the service processes import
    producer = make_producer(kafka, client_id="bench-payments")
    rng = random.Random(7)
    order = list(range(debtors))
    rng.shuffle(order)  # payments reach the debtors in no particular order
    flood_ids, paced_ids = order[:flood_n], order[flood_n:flood_n + paced_n]
    try:
        await ensure_topics(kafka, all_topics(prefix, list(SERVICES), [TENANT]), PARTITIONS)
        migrate(database_url, schemas["reminders"], REMINDERS_MIGRATIONS)
        add_settled_log(database_url, schemas["reminders"])
        print(f"starting {', '.join(SERVICES)} on {prefix}* …", flush=True)
        for p in procs:
            p.start()
        deadline = time.monotonic() + 120
        while not all(p.ready() for p in procs):
            if time.monotonic() > deadline:
                raise RuntimeError("services not ready in 120 s:\n" + "\n".join(p.tail() for p in procs))
            await asyncio.sleep(0.3)
        await producer.start()

        print(f"setup: the tick for {DAY}, then {debtors} debtors with one open invoice each …", flush=True)
        started = time.perf_counter()
        tick = new_event("clock.tick", {"business_date": DAY.isoformat()}, source=SOURCE, tenantid=TENANT,
                         customerid=TENANT_CUSTOMERID, time=dt.datetime.now(dt.UTC))
        rec = encode(tick, prefix, topic=Topic.inbound)
        await (await producer.send(inbound, value=rec.value, key=rec.key, headers=rec.headers))

        async def days_set() -> int:
            return sum([await views.scalar(s, "SELECT count(*) FROM tenant_days WHERE business_date = :d", d=DAY)
                        or 0 for s in ("aging", "reminders")])
        await until("the tick", days_set, lambda n: n == 2, procs)
        acks = []
        for ev in setup_events(debtors):
            rec = encode(ev, prefix, topic=Topic.inbound)
            acks.append(await producer.send(inbound, value=rec.value, key=rec.key, headers=rec.headers))
        await asyncio.gather(*acks)

        async def known() -> int:
            return await views.scalar("reminders", """
                SELECT count(*) FROM debtors WHERE json_array_length(state->'items') > 0
                AND (state->'contact'->>'has_email')::boolean""") or 0

        async def setup_left() -> tuple[int, int]:
            return debtors - await known(), await views.outbox_rows()
        await until("setup", setup_left, lambda v: v == (0, 0), procs)
        setup_seconds = time.perf_counter() - started
        print(f"  reminders knows {debtors} debtors' items ({setup_seconds:.1f} s)", flush=True)
        await asyncio.sleep(2)
        load_avg["after_setup"] = os.getloadavg()

        async def settled_count() -> int:
            return await views.scalar("reminders", "SELECT count(*) FROM bench_settled") or 0

        # --- flood: the maximum rate ---
        print(f"flood: {flood_n} payments as fast as the producer takes them …", flush=True)
        records = [(customer(d), payment(d, prefix)) for d in flood_ids]
        cpu0 = await meter.sample()
        produced_flood = await flood(producer, inbound, records)
        await until("flood", settled_count, lambda n: n >= flood_n, procs)
        cpu1 = await meter.sample()
        flood_lat, flood_at = await settled_since(views, produced_flood)
        first = min(produced_flood.values())
        finish = sorted(flood_at.values())
        seconds = finish[-1] - first
        max_rate = flood_n / seconds
        steady = (percentile(finish, 90) - percentile(finish, 10))
        flood_result = {
            "payments": flood_n, "seconds": seconds, "payments_per_s": max_rate,
            "produce_seconds": max(produced_flood.values()) - first,
            "steady_payments_per_s_10_to_90_pct": 0.8 * flood_n / steady if steady > 0 else None,
            "latency": latency_figures(list(flood_lat.values())), "cpu_seconds": CpuMeter.delta(cpu0, cpu1),
        }
        print(f"  {max_rate:.1f} payments/s ({seconds:.1f} s)", flush=True)
        await until("quiet after the flood", views.outbox_rows, lambda n: n == 0, procs)
        await asyncio.sleep(2)
        load_avg["after_flood"] = os.getloadavg()

        # --- paced: latency at `share` of the maximum rate ---
        rate = share * max_rate
        print(f"paced: {paced_n} payments at {rate:.1f}/s ({share:.0%} of the maximum), "
              f"~{paced_n / rate:.0f} s …", flush=True)
        records = [(customer(d), payment(d, prefix)) for d in paced_ids]
        cpu0 = await meter.sample()
        started_paced = time.perf_counter()
        produced_paced, late = await paced(producer, inbound, records, rate)
        await until("paced", settled_count, lambda n: n >= flood_n + paced_n, procs)
        paced_seconds = time.perf_counter() - started_paced
        cpu1 = await meter.sample()
        paced_lat, paced_at = await settled_since(views, produced_paced)
        in_order = [paced_lat[customer(d)] for d in paced_ids]
        third = len(in_order) // 3
        produced_span = max(produced_paced.values()) - min(produced_paced.values())
        late_sorted = sorted(late)
        paced_result = {
            "payments": paced_n, "target_payments_per_s": rate, "share_of_max": share,
            "achieved_payments_per_s": (paced_n - 1) / produced_span if produced_span > 0 else None,
            "producer_lateness_ms": {"p50": 1000 * percentile(late_sorted, 50),
                                     "p99": 1000 * percentile(late_sorted, 99), "max": 1000 * late_sorted[-1]},
            "seconds": paced_seconds, "latency": latency_figures(in_order),
            "latency_by_third": [latency_figures(in_order[i * third:(i + 1) * third if i < 2 else None])
                                 for i in range(3)],
            "seconds_after_the_last_payment_produced": max(paced_at.values()) - max(produced_paced.values()),
            "cpu_seconds": CpuMeter.delta(cpu0, cpu1),
        }
        load_avg["after_paced"] = os.getloadavg()

        # --- where the time goes: the broker's timestamps of the hops in between ---
        paced_result["hops"] = await hops(kafka, prefix, produced_paced, paced_at)
        flood_result["hops"] = await hops(kafka, prefix, produced_flood, flood_at)
        paced_result["batches"] = await batches(views, min(produced_paced.values()), max(paced_at.values()))
        flood_result["batches"] = await batches(views, first, finish[-1])

        # --- checks: nothing refused, and whether a settled row was written again afterwards ---
        refused = await end_offsets(kafka, [topic_name(Topic.rejected, prefix)]
                                    + [f"{prefix}{s}.dlq" for s in SERVICES])
        rewritten, rewritten_p50 = (await views.rows("reminders", """
            SELECT count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.updated_at - s.updated_at))
            FROM debtors d JOIN bench_settled s USING (customerid) WHERE d.updated_at <> s.updated_at"""))[0]
        trigger_lag = await views.scalar("reminders", """
            SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM written_at - updated_at))
            FROM bench_settled""")
    except BaseException:
        for p in procs:
            print(f"--- {p.name} log ---\n{p.tail()}", file=sys.stderr)
        raise
    finally:
        await producer.stop()
        for p in reversed(procs):
            p.stop()
            if p.profile and p.profile.exists():
                pstats.Stats(str(p.profile)).sort_stats("tottime").print_stats(30)
                pstats.Stats(str(p.profile)).sort_stats("cumulative").print_stats(40)
        await views.dispose()
        await drop_topics(kafka, prefix)
        for s in schemas.values():
            drop_schema(database_url, s)
        shutil.rmtree(tmp, ignore_errors=True)
    if refused:
        raise RuntimeError(f"{refused} records were rejected or dead-lettered")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "debtors": debtors,
        "database": make_url(database_url).render_as_string(hide_password=True), "cores": os.cpu_count(),
        "machine": f"{platform.node()} {platform.machine()}", "python": platform.python_version(),
        "load_average": {k: [round(x, 2) for x in v] for k, v in load_avg.items()}, "code": code,
        "setup": {"events": 2 * debtors + 1, "seconds": setup_seconds},
        "flood": flood_result, "paced": paced_result,
        "checks": {"rejected_or_dead_lettered": refused,
                   "settled_rows_written_again_later": rewritten,
                   "written_again_later_p50_seconds_after": rewritten_p50,
                   "p99_seconds_from_updated_at_to_row_write": trigger_lag},
    }


def report(r: dict) -> str:
    f, p = r["flood"], r["paced"]
    fl, pl = f["latency"], p["latency"]

    def lat(x: dict) -> str:
        return (f"p50 {x['p50_ms']:.0f} ms, p90 {x['p90_ms']:.0f} ms, p99 {x['p99_ms']:.0f} ms, "
                f"max {x['max_ms']:.0f} ms")

    def cpu(c: dict) -> str:
        return ", ".join(f"{k} {v:.1f}" for k, v in c.items())

    def batch_line(b: dict) -> str:
        r = b["reminders"]
        return "transactions (events per batch, mean): " + ", ".join(
            f"{k} {v['batches']} ({v['events_per_batch']['mean']:.1f})" for k, v in b.items() if v["batches"]) + (
            f"; reminders busy {r['busy_share_of_window']:.0%} of the window, claim→write p50 "
            f"{r['claim_to_write_ms']['p50']:.0f} ms" if r.get("claim_to_write_ms") else "")

    return "\n".join([
        f"payment → reminders latency — {r['debtors']} debtors, {r['cores']} cores, load average "
        f"{r['load_average']['start'][0]} at start, code {r['code']['commit']}"
        f"{' + uncommitted' if r['code']['uncommitted'] else ''}, {r['date']}",
        f"  setup       {r['setup']['events']} events in {r['setup']['seconds']:.1f} s",
        f"  flood       {f['payments']} payments in {f['seconds']:.1f} s: maximum rate {f['payments_per_s']:.1f}/s "
        f"(steady 10→90%: {f['steady_payments_per_s_10_to_90_pct']:.1f}/s); latency under the flood: {lat(fl)}",
        f"              CPU s: {cpu(f['cpu_seconds'])}",
        f"              {batch_line(f['batches'])}",
        f"  paced       {p['payments']} payments at {p['target_payments_per_s']:.1f}/s ({p['share_of_max']:.0%}; "
        f"achieved {p['achieved_payments_per_s']:.1f}/s, producer late p99 {p['producer_lateness_ms']['p99']:.1f} ms)",
        f"              latency: {lat(pl)}, mean {pl['mean_ms']:.0f} ms",
        "              by third: " + "; ".join(f"p50 {t['p50_ms']:.0f} / p99 {t['p99_ms']:.0f} ms"
                                            for t in p["latency_by_third"])
        + f"; the last payment known {p['seconds_after_the_last_payment_produced']:.1f} s after it was produced",
        "              hops (p50 / p99 ms): " + "; ".join(
            f"{k[:-3]} {p['hops'][k]['p50_ms']:.0f} / {p['hops'][k]['p99_ms']:.0f}"
            for k in ("ingest_ms", "aging_ms", "reminders_ms")),
        f"              CPU s: {cpu(p['cpu_seconds'])}",
        f"              {batch_line(p['batches'])}",
        f"  checks      rejected/dead-lettered {r['checks']['rejected_or_dead_lettered']}, settled rows written "
        f"again later {r['checks']['settled_rows_written_again_later']} (p50 "
        f"{r['checks']['written_again_later_p50_seconds_after'] or 0:.2f} s after)",
    ])


def stop_on_sigterm() -> None:
    """A SIGTERM ends the run like Ctrl-C: the cleanup (processes, topics, schemas) still runs."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)


def main() -> None:
    stop_on_sigterm()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader elections of the fresh topics are retried
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debtors", type=int, default=1500)
    parser.add_argument("--flood", type=int, default=500, help="payments of the maximum-rate phase")
    parser.add_argument("--paced", type=int, default=900, help="payments of the paced phase")
    parser.add_argument("--share", type=float, default=0.5, help="the paced rate as a share of the maximum")
    parser.add_argument("--database-url", default=os.environ.get("SOFTCOLLECT_BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--profile", choices=SERVICES,
                        help="run that service under cProfile and print its top functions (figures not valid)")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("the benchmark runs on PostgreSQL")
    result = asyncio.run(bench(args.debtors, args.flood, args.paced, args.share, args.database_url, args.profile))
    print(report(result))
    if args.profile:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
