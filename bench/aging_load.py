"""Aging under a generated portfolio: the rate at which the service applies it and the time of one
tick, against the raw insert rate of the same rows into the same database, in one run.

    .venv/bin/python bench/aging_load.py [--debtors N] [--items-per-debtor K] [--quick]
                                         [--database-url URL] [--batch B] [--profile]

One simulated tenant, a fresh schema (``aging_bench_<hex>``, the service's migrations), the service's
own code path in this process (no broker): ``MessageProcessor`` with aging's handlers and units of
work, B raw messages per batch, a dead-letter stub that fails the run. In order:

- load: a ``clock.tick`` for the load day, then a ``customer.upserted`` per debtor, then K
  ``invoice.issued`` per debtor (round robin over the debtors: the first invoice of each, the second
  of each, …), one open item each, due dates spread evenly over the 300 days around the tick day so
  that 3 days in 300 (1 %) of the items cross a phase boundary on it;
- raw inserts: what the load left in the database — the ledger documents, the journal, the outbox —
  read back and inserted with plain Core executemany, B rows per transaction, into a second fresh
  schema with the same migrations (and, reported apart, the processed-events rows);
- tick: ``VACUUM ANALYZE`` of the service's tables (what autovacuum does before the next day), then one
  ``clock.tick`` for the next day, split into the phase moves of the ledgers due for review and the
  day's snapshots and KPIs (``handlers.publish_day``, timed by wrapping it).

CPU is this process's (``time.process_time``) and, on a local server, that of the PostgreSQL backends
serving the run's connections. Figures go to ``bench/results/aging_load.json``; what each figure
measures: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from ingest_throughput import DEFAULT_PG, REPO, code_state, cpu_seconds, drop_schema
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

import softcollect_aging.handlers as aging_handlers
from softcollect_aging.app import MIGRATIONS
from softcollect_aging.config import AgingSettings, Policies
from softcollect_aging.store import AgingRepository, journal, ledgers
from softcollect_events import TENANT_CUSTOMERID, CloudEvent, encode, new_event
from softcollect_runtime import logs
from softcollect_runtime.db import create_engine, migrate, outbox, processed_events
from softcollect_runtime.dlq import DeadLetter, RawMessage
from softcollect_runtime.processing import MessageProcessor, Outcome
from softcollect_runtime.tenants import AgingPolicy
from softcollect_runtime.uow import UnitOfWork

RESULTS = Path(__file__).resolve().parent / "results" / "aging_load.json"
TENANT = "bench"
SOURCE = "erp/bench"
LOAD_DAY = dt.date(2024, 6, 3)  # the tenant's business date while the portfolio loads
TICK_DAY = LOAD_DAY + dt.timedelta(days=1)  # the benchmark's tick
SPREAD_DAYS = 300  # due dates: uniform over TICK_DAY-150 … TICK_DAY+149
TERMS = (30, 60, 90, 120)  # issue date = due date - terms, the load day at the latest
QUICK_DEBTORS = 5000
RAW_TABLES = (ledgers, journal, outbox)  # "the same rows": what the load leaves in them


class FailingDeadLetters:
    """The DLQ stub: nothing may be dead-lettered in a benchmark run."""

    async def send(self, msg: RawMessage, letter: DeadLetter) -> None:
        raise RuntimeError(f"dead-lettered (offset {msg.offset}): {letter.kind}: {letter.error}")


class Backends:
    """CPU seconds of the PostgreSQL backends serving an engine's connections (a local server; else None)."""

    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.pids: set[int] = set()
        self.local = make_url(url).host in ("127.0.0.1", "localhost", "::1") and Path("/proc").is_dir()
        sa.event.listen(engine.sync_engine, "connect",
                        lambda dbapi_conn, _: self.pids.add(dbapi_conn.driver_connection.get_server_pid()))

    def cpu(self) -> float | None:
        try:
            return sum(cpu_seconds(pid) for pid in self.pids) if self.local else None
        except OSError:
            return None


class Stopwatch:
    """Wall, process CPU and database-backend CPU since the last `start`."""

    def __init__(self, backends: Backends) -> None:
        self.backends = backends
        self.start()

    def _now(self) -> tuple[float, float, float | None]:
        return time.perf_counter(), time.process_time(), self.backends.cpu()

    def start(self) -> None:
        self._t = self._now()

    def elapsed(self) -> dict:
        (w0, c0, d0), (w1, c1, d1) = self._t, self._now()
        return {"seconds": w1 - w0, "cpu_seconds": c1 - c0,
                "db_cpu_seconds": None if d0 is None or d1 is None else d1 - d0}


def portfolio(debtors: int, per_debtor: int, seed: int = 1) -> tuple[list[CloudEvent], int]:
    """The load's events, and how many of its items cross a phase boundary on TICK_DAY."""
    rng = random.Random(seed)
    at = dt.datetime.combine(LOAD_DAY, dt.time(9), dt.UTC)
    windows = AgingPolicy().phases  # the bench tenant's file leaves the DOMAIN.md defaults
    boundaries = {windows.expiring_from, windows.just_expired_from, windows.handed_over_from}
    first_due = TICK_DAY - dt.timedelta(days=SPREAD_DAYS // 2)

    def event(type_: str, debtor: int, data: dict) -> CloudEvent:
        return new_event(type_, data, source=SOURCE, tenantid=TENANT, customerid=f"D{debtor:07d}", time=at)

    events = [event("customer.upserted", d, {"name": f"Bench debtor {d}", "country": "IT", "language": "it",
                                               "currency": "EUR", "credit_limit": "50000.00"})
              for d in range(debtors)]
    crossing = 0
    for k in range(per_debtor):
        for d in range(debtors):
            n = k * debtors + d
            due = first_due + dt.timedelta(days=rng.randrange(SPREAD_DAYS))
            issue = min(due - dt.timedelta(days=rng.choice(TERMS)), LOAD_DAY)
            cents = rng.randrange(100_00, 5000_00)
            crossing += (TICK_DAY - due).days in boundaries
            events.append(event("invoice.issued", d, {
                "invoice_id": f"INV-{n:08d}", "number": f"B/{n}", "issue_date": issue.isoformat(),
                "due_date": due.isoformat(), "currency": "EUR", "amount": f"{cents // 100}.{cents % 100:02d}"}))
    return events, crossing


def tick_event(day: dt.date) -> CloudEvent:
    return new_event("clock.tick", {"business_date": day.isoformat()}, source=SOURCE, tenantid=TENANT,
                     customerid=TENANT_CUSTOMERID, time=dt.datetime.combine(day, dt.time(0, 5), dt.UTC))


def raw(events: list[CloudEvent], prefix: str) -> list[RawMessage]:
    """As the consumer hands them over: the bytes `encode` puts on the topic."""
    out = []
    for offset, ev in enumerate(events):
        rec = encode(ev, prefix)
        out.append(RawMessage(rec.topic, 0, offset, rec.key, rec.value, tuple(rec.headers), time.time()))
    return out


class Service:
    """Aging's processing path in this process: its handlers, units of work and the runtime's processor.

    The tick handler and ``publish_day`` are wrapped to time them; units of work are counted, so a
    batch redone message by message (after a failure) shows.
    """

    def __init__(self, engine: AsyncEngine, settings: AgingSettings) -> None:
        self.engine, self.prefix = engine, settings.topic_prefix
        self.units = 0
        self.last: UnitOfWork | None = None
        self.spans: dict[str, float] = {}
        handlers = aging_handlers.make_handlers(Policies(settings))
        handlers["clock.tick"] = self.timed("tick handler", handlers["clock.tick"])
        self.processor = MessageProcessor("aging", handlers, self.new_uow, FailingDeadLetters(),
                                          settings.max_attempts, settings.retry_backoff_seconds)

    def new_uow(self) -> UnitOfWork:
        self.units += 1
        self.last = UnitOfWork(self.engine, self.prefix, AgingRepository)
        return self.last

    def timed(self, name: str, fn):
        async def wrapper(*args):
            started = time.perf_counter()
            try:
                return await fn(*args)
            finally:
                self.spans[name] = time.perf_counter() - started
        return wrapper


async def load(service: Service, msgs: list[RawMessage], batch: int, backends: Backends) -> dict:
    outcomes: Counter[Outcome] = Counter()
    units = service.units
    total, lap = Stopwatch(backends), Stopwatch(backends)
    laps, every, since = [], -(-len(msgs) // 10 // batch) * batch, 0  # ~10 laps, whole batches each
    for start in range(0, len(msgs), batch):
        outcomes.update(await service.processor.process_batch(msgs[start:start + batch]))
        done = min(start + batch, len(msgs))
        if done % every == 0 or done == len(msgs):
            laps.append({"events_done": done, "events": done - since, **lap.elapsed()})
            laps[-1]["events_per_s"] = laps[-1]["events"] / laps[-1]["seconds"]
            lap.start()
            since = done
            print(f"  {done:9d} events done, the last {laps[-1]['events']} at {laps[-1]['events_per_s']:.0f} events/s",
                  flush=True)
    figures = total.elapsed()
    if outcomes != Counter({Outcome.APPLIED: len(msgs)}):
        raise RuntimeError(f"not every event was applied: {dict(outcomes)}")
    batches = -(-len(msgs) // batch)
    return {"events": len(msgs), **figures, "events_per_s": len(msgs) / figures["seconds"],
            "cpu_us_per_event": 1e6 * figures["cpu_seconds"] / len(msgs),
            "batches": batches, "batches_redone_one_by_one": service.units - units - batches, "laps": laps}


async def raw_inserts(source: AsyncEngine, target: AsyncEngine, batch: int, backends: Backends) -> dict:
    """Every row the load left in the service's tables, inserted again elsewhere; only the inserts are timed."""
    tables = {}
    for table in (*RAW_TABLES, processed_events):
        columns = [c for c in table.c if c.name not in ("seq", "id")]  # the serial keys are the database's
        async with source.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(
                sa.select(*columns).order_by(*table.primary_key.columns))).mappings()]
        watch = Stopwatch(backends)
        for start in range(0, len(rows), batch):
            async with target.begin() as conn:
                await conn.execute(sa.insert(table), rows[start:start + batch])
        tables[table.name] = {"rows": len(rows), **watch.elapsed()}
        tables[table.name]["rows_per_s"] = len(rows) / tables[table.name]["seconds"]
        del rows
    same = [tables[t.name] for t in RAW_TABLES]
    summed = {k: sum(f[k] for f in same) if all(f[k] is not None for f in same) else None
              for k in ("rows", "seconds", "cpu_seconds", "db_cpu_seconds")}
    return {**summed, "rows_per_s": summed["rows"] / summed["seconds"], "tables": tables}


async def count(engine: AsyncEngine, stmt) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(stmt)


async def tick(service: Service, backends: Backends, items: int) -> dict:
    """One clock.tick through the processor, split with the wrapped handler and publish_day."""
    engine = service.engine
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        watch = Stopwatch(backends)
        for table in ("ledgers", "journal", "outbox", "processed_events"):
            await conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
        vacuum = watch.elapsed()["seconds"]
    due = await count(engine, sa.select(sa.func.count()).select_from(ledgers).where(
        ledgers.c.tenantid == TENANT, ledgers.c.next_review <= TICK_DAY))
    debtors = await count(engine, sa.select(sa.func.count()).select_from(ledgers))
    outbox_before = await count(engine, sa.select(sa.func.count()).select_from(outbox))
    [msg] = raw([tick_event(TICK_DAY)], service.prefix)
    publish_day = aging_handlers.publish_day
    aging_handlers.publish_day = service.timed("publish_day", publish_day)
    try:
        watch = Stopwatch(backends)
        outcome = await service.processor.process(msg)
        figures = watch.elapsed()
    finally:
        aging_handlers.publish_day = publish_day
    if outcome is not Outcome.APPLIED:
        raise RuntimeError(f"the tick was {outcome}")
    emitted = service.last.emitted
    types = Counter(e.type for e in emitted)
    moved = {e.customerid for e in emitted if e.type == "receivable.phase_changed"}
    written = await count(engine, sa.select(sa.func.count()).select_from(outbox)) - outbox_before
    handler, publish = service.spans["tick handler"], service.spans["publish_day"]
    return {
        **figures, "vacuum_analyze_seconds_before": vacuum, "debtors": debtors, "outbox_rows_written": written,
        "events_by_type": dict(sorted(types.items())),
        "phase_moves": {"seconds": handler - publish, "ledgers_due_for_review": due, "ledgers_with_a_move": len(moved),
                        "items_crossing": types["receivable.phase_changed"],
                        "items_crossing_share": types["receivable.phase_changed"] / items},
        "snapshots_and_kpis": {"seconds": publish, "events": types["aging.snapshot"] + types["portfolio.kpis"]},
        "claim_outbox_write_and_commit": {"seconds": figures["seconds"] - handler},
    }


@contextlib.contextmanager
def profiled(name: str, on: bool):
    """cProfile of the block, printed after it: its top functions by own time, then by cumulative time."""
    if not on:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        print(f"\n— cProfile of {name} (not benchmark figures) —")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


async def bench(debtors: int, per_debtor: int, database_url: str, batch: int, profile: bool) -> dict:
    run_id = uuid.uuid4().hex[:10]
    schema, raw_schema = f"aging_bench_{run_id}", f"aging_bench_{run_id}_raw"
    tmp = Path(tempfile.mkdtemp(prefix="softcollect-bench-"))
    (tmp / "config" / "tenants").mkdir(parents=True)
    (tmp / "config" / "tenants" / f"{TENANT}.yaml").write_text("name: Bench S.r.l.\nsimulated: true\n")
    settings = AgingSettings(database_url=database_url, db_schema=schema, config_dir=tmp / "config",
                             data_dir=tmp / "data")
    engine, raw_engine = create_engine(database_url, schema), create_engine(database_url, raw_schema)
    backends, raw_backends = Backends(engine, database_url), Backends(raw_engine, database_url)
    load_avg, code = [os.getloadavg()], code_state()  # the code as this process imported it
    try:
        migrate(database_url, schema, MIGRATIONS)
        migrate(database_url, raw_schema, MIGRATIONS)
        print(f"generating {debtors} debtors × {per_debtor} open items …", flush=True)
        started = time.perf_counter()
        events, crossing = portfolio(debtors, per_debtor)
        msgs = raw(events, settings.topic_prefix)
        del events
        generated = time.perf_counter() - started
        service = Service(engine, settings)
        if await service.processor.process(raw([tick_event(LOAD_DAY)], service.prefix)[0]) is not Outcome.APPLIED:
            raise RuntimeError("the load day's tick was not applied")
        print(f"load: {len(msgs)} events through the processor, {batch} per batch …", flush=True)
        with profiled("the load", profile):
            applied = await load(service, msgs, batch, backends)
        del msgs
        load_avg.append(os.getloadavg())
        print("raw inserts of the same rows …", flush=True)
        baseline = await raw_inserts(engine, raw_engine, batch, raw_backends)
        load_avg.append(os.getloadavg())
        print("tick …", flush=True)
        with profiled("the tick", profile):
            ticked = await tick(service, backends, debtors * per_debtor)
        load_avg.append(os.getloadavg())
    finally:
        await engine.dispose()
        await raw_engine.dispose()
        for s in (schema, raw_schema):
            drop_schema(database_url, s)
        shutil.rmtree(tmp, ignore_errors=True)
    if ticked["phase_moves"]["items_crossing"] != crossing:
        raise RuntimeError(f"{ticked['phase_moves']['items_crossing']} items moved, {crossing} were generated to")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "debtors": debtors,
        "items_per_debtor": per_debtor, "open_items": debtors * per_debtor, "batch": batch, "profiled": profile,
        "load_day": LOAD_DAY.isoformat(), "tick_day": TICK_DAY.isoformat(),
        "database": make_url(database_url).render_as_string(hide_password=True), "cores": os.cpu_count(),
        "machine": f"{platform.node()} {platform.machine()}", "python": platform.python_version(),
        "load_average": {k: [round(x, 2) for x in v] for k, v in zip(
            ("start", "after_load", "after_raw_inserts", "after_tick"), load_avg, strict=True)},
        "code": code, "generate_seconds": generated, "load": applied, "raw_inserts": baseline,
        "ratio_events_per_s_to_raw_rows_per_s": applied["events_per_s"] / baseline["rows_per_s"],
        "ratio_raw_seconds_to_load_seconds": baseline["seconds"] / applied["seconds"], "tick": ticked,
    }


def report(r: dict) -> str:
    def cpu(f: dict) -> str:
        db = "n/a" if f["db_cpu_seconds"] is None else f"{f['db_cpu_seconds']:.1f} s"
        return f"CPU {f['cpu_seconds']:.1f} s here, {db} in PostgreSQL"

    a, b, t = r["load"], r["raw_inserts"], r["tick"]
    pm, sk = t["phase_moves"], t["snapshots_and_kpis"]
    per_event = b["rows"] / a["events"]
    lines = [
        f"aging load — {r['debtors']} debtors × {r['items_per_debtor']} open items, batches of {r['batch']}, "
        f"{r['cores']} cores, load average {r['load_average']['start'][0]} at start, {r['date']}",
        f"  load     {a['events']:9d} events  {a['seconds']:8.1f} s  {a['events_per_s']:7.0f} events/s   "
        f"{cpu(a)} ({a['cpu_us_per_event']:.0f} µs/event here)",
        f"  raw      {b['rows']:9d} rows    {b['seconds']:8.1f} s  {b['rows_per_s']:7.0f} rows/s     {cpu(b)}",
    ]
    lines += [f"    {name:17}{f['rows']:9d} rows    {f['seconds']:8.1f} s  {f['rows_per_s']:7.0f} rows/s"
              + ("   (not in the raw figure)" if name == "processed_events" else "")
              for name, f in b["tables"].items()]
    lines += [
        f"  ratio events/s ÷ raw rows/s: {r['ratio_events_per_s_to_raw_rows_per_s']:.3f}  "
        f"({per_event:.2f} rows per event; the raw inserts take {r['ratio_raw_seconds_to_load_seconds']:.1%} "
        f"of the load's time)",
        f"  tick     {t['seconds']:.2f} s  {cpu(t)}; {t['outbox_rows_written']} outbox rows written",
        f"    (a) phase moves        {pm['seconds']:7.2f} s  (find, load, move, write back) "
        f"{pm['ledgers_due_for_review']} ledgers due for review, "
        f"{pm['ledgers_with_a_move']} with a move; {pm['items_crossing']} items crossed "
        f"({pm['items_crossing_share']:.3%} of {r['open_items']})",
        f"    (b) snapshots and KPIs {sk['seconds']:7.2f} s  {sk['events']} events over {t['debtors']} debtors",
        f"    claim, outbox write (all {t['outbox_rows_written']} rows), commit "
        f"{t['claim_outbox_write_and_commit']['seconds']:.2f} s",
        f"    events: {', '.join(f'{k} {v}' for k, v in t['events_by_type'].items())}",
    ]
    if r["debtors"] < r["batch"]:
        lines.append("  NOTE: fewer debtors than messages per batch: a batch holds a debtor's events more than once, "
                     "which the unit of work reads and writes once — a kinder case than a stream of many debtors")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--items-per-debtor", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_DEBTORS} debtors")
    parser.add_argument("--database-url", default=os.environ.get("SOFTCOLLECT_BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--batch", type=int, default=500, help="raw messages (and raw rows) per transaction")
    parser.add_argument("--profile", action="store_true", help="cProfile the load and the tick; no results file")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("the benchmark runs on PostgreSQL")
    logs.configure("WARNING", "console", "aging")
    debtors = QUICK_DEBTORS if args.quick else args.debtors
    result = asyncio.run(bench(debtors, args.items_per_debtor, args.database_url, args.batch, args.profile))
    print(report(result))
    if not args.profile:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
