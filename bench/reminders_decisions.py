"""Reminders' decisions per second on one tick over a generated portfolio where every debtor has a step
due, against the raw insert rate of the same debtor rows into the same database, in one run.

    .venv/bin/python bench/reminders_decisions.py [--debtors N] [--quick] [--database-url URL]
                                                  [--batch B] [--profile]

One simulated tenant (``bench``, DOMAIN.md's default policy), a fresh schema
(``reminders_bench_<hex>``, the service's migrations), the service's own code path in this process (no
broker). In order:

- setup (the baseline): N debtor views (``softcollect_reminders.domain.Debtor``), each with a contact
  (e-mail or not, it/en) and 1–3 open items whose due dates put one policy step on the tick day (the
  earlier steps marked done), written with plain Core executemany inserts, B rows per transaction, into
  ``debtors`` (with ``next_review`` from ``domain.next_review``: the tick day for every debtor) and
  ``contacts``. Only the inserts are timed: **the raw insert rate of the same rows**;
- ``VACUUM ANALYZE`` of the two tables (not timed: what autovacuum does after a bulk load);
- the tick: one ``clock.tick`` through ``MessageProcessor.process`` with reminders' handlers
  (``make_handlers(Tenants(settings))``) and units of work (``UnitOfWork`` on the service's engine with a
  ``RemindersRepository``): the handler loads the due debtors' views, decides each, emits the outcomes to
  the outbox and queues the written contacts in ``messages``. **Decisions/s = debtors decided ÷ the
  tick's wall time.** Parts of it are timed by wrapping the repository's methods, the unit of work's
  commit and the handler's ``domain.decide``, ``emit`` and ``queue``; a tick that is not applied (e.g.
  dead-lettered) is reported as such, with the error.

CPU is this process's and, on a local server, that of the PostgreSQL backends serving the run's
connections; memory is the process's peak RSS during the tick. Figures go to
``bench/results/reminders_decisions.json``; what each figure measures: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import random
import resource
import shutil
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from aging_load import Backends, Stopwatch, profiled, raw
from ingest_throughput import DEFAULT_PG, REPO, code_state, drop_schema
from reminders_latency import stop_on_sigterm
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

import softcollect_reminders.domain as reminders_domain
import softcollect_reminders.handlers as reminders_handlers
from softcollect_events import TENANT_CUSTOMERID, new_event
from softcollect_reminders.app import MIGRATIONS
from softcollect_reminders.config import ReminderSettings, Tenants
from softcollect_reminders.domain import Contact, Debtor, OpenItem, next_review
from softcollect_reminders.store import RemindersRepository, contacts, debtors, messages
from softcollect_runtime import logs
from softcollect_runtime.db import create_engine, migrate, outbox, utcnow
from softcollect_runtime.dlq import DeadLetter, RawMessage
from softcollect_runtime.processing import MessageProcessor, Outcome
from softcollect_runtime.tenants import AgingPolicy
from softcollect_runtime.uow import UnitOfWork

RESULTS = Path(__file__).resolve().parent / "results" / "reminders_decisions.json"
TENANT = "bench"
SOURCE = "erp/bench"
TICK_DAY = dt.date(2024, 6, 4)  # a Tuesday, no Italian holiday: a business day
QUICK_DEBTORS = 5000
# The steps an item may have reached on the tick day, uniformly (handover is aging's: its items are
# handed over, not reminded).
MIX = ("delivery_check", "courtesy", "due_today", "first_reminder", "first_call", "statement",
       "second_reminder", "second_call", "final_notice")
NO_EMAIL, KEY_ACCOUNT, CAPPED, CASH_ON_ACCOUNT, ENGLISH = 0.05, 0.03, 0.05, 0.02, 0.3


# --- the portfolio -----------------------------------------------------------------------------------

def phase(days_past_due: int) -> str:
    """Aging's phase of an item so many days past due (DOMAIN.md's default windows)."""
    w = AgingPolicy().phases
    return ("just_expired" if days_past_due >= w.just_expired_from
            else "expiring" if days_past_due >= w.expiring_from else "upcoming")


def debtor_rows(first: int, count: int, tenants: Tenants, seed: int = 1) -> tuple[list[dict], list[dict]]:
    """Debtors first … first+count-1: their `debtors` rows and their `contacts` rows."""
    now = utcnow()
    views, people = [], []
    for d in range(first, first + count):
        rng = random.Random(seed * 1_000_003 + d)
        segment = "key_account" if rng.random() < KEY_ACCOUNT else None
        has_email = rng.random() >= NO_EMAIL
        debtor = Debtor(TENANT, f"D{d:07d}", contact=Contact(
            has_email=has_email, language="en" if rng.random() < ENGLISH else "it", country="IT", segment=segment,
            account_manager="am-bench" if segment else None))
        policy = tenants.policy(TENANT, segment)
        steps = {s.name: i for i, s in enumerate(policy.steps)}
        total = Decimal(0)
        for k in range(rng.randint(1, 3)):
            step = policy.steps[steps[rng.choice(MIX)]]
            due = TICK_DAY - dt.timedelta(days=step.day)
            cents = rng.randrange(100_00, 5000_00)
            item = OpenItem(invoice_id=f"INV-{d:07d}-{k}", number=f"B/{d}/{k}", currency="EUR", due_date=due,
                            open_amount=Decimal(cents) / 100, phase=phase(step.day))
            total += item.open_amount
            debtor.upsert_item(item)
            debtor.numbers[item.invoice_id] = item.number
            debtor.steps_done[item.key] = [s.name for s in policy.steps[:steps[step.name]]]
        if rng.random() < CAPPED:  # written to yesterday: today's written step waits (frequency cap)
            debtor.last_written_contact = TICK_DAY - dt.timedelta(days=1)
        if rng.random() < CASH_ON_ACCOUNT:  # unapplied cash covering everything open
            debtor.unapplied["EUR"] = total
        review = next_review(debtor, policy)
        if review != TICK_DAY:
            raise AssertionError(f"{debtor.customerid}: next review {review}, not the tick day")
        views.append({"tenantid": TENANT, "customerid": debtor.customerid, "state": debtor.to_dict(),
                      "next_review": review, "updated_at": now})
        people.append({"tenantid": TENANT, "customerid": debtor.customerid, "name": f"Bench debtor {d} S.r.l.",
                       "emails": [f"ap{d}@debtor.example"] if has_email else [], "updated_at": now})
    return views, people


class Totals:
    """Stopwatch figures summed over many short windows."""

    def __init__(self) -> None:
        self.f = {"seconds": 0.0, "cpu_seconds": 0.0, "db_cpu_seconds": 0.0}

    def add(self, e: dict) -> None:
        for k in self.f:
            self.f[k] = None if self.f[k] is None or e[k] is None else self.f[k] + e[k]


async def setup(engine: AsyncEngine, tenants: Tenants, n: int, batch: int, backends: Backends) -> dict:
    """The portfolio, generated B debtors at a time; only the inserts are timed."""
    timed = {"debtors": Totals(), "contacts": Totals()}
    generate = 0.0
    for first in range(0, n, batch):
        started = time.perf_counter()
        views, people = debtor_rows(first, min(batch, n - first), tenants)
        generate += time.perf_counter() - started
        for table, rows in ((debtors, views), (contacts, people)):
            watch = Stopwatch(backends)
            async with engine.begin() as conn:
                await conn.execute(sa.insert(table), rows)
            timed[table.name].add(watch.elapsed())
        if (first // batch) % max(1, n // batch // 10) == 0:
            print(f"  {first + len(views):9d} debtors written", flush=True)
    out = {"generate_seconds": generate}
    for name, t in timed.items():
        out[name] = {"rows": n, **t.f, "rows_per_s": n / t.f["seconds"]}
    return out


# --- the service's tick, timed by parts -----------------------------------------------------------------

class Parts:
    """Wall seconds, CPU seconds (this process) and calls per named part."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.cpu: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    @contextmanager
    def timing(self, name: str):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.cpu[name] += time.process_time() - cpu
            self.calls[name] += 1

    def wrap(self, name: str, fn):
        if asyncio.iscoroutinefunction(fn):
            async def timed_async(*args, **kwargs):
                with self.timing(name):
                    return await fn(*args, **kwargs)
            return timed_async

        def timed(*args, **kwargs):
            with self.timing(name):
                return fn(*args, **kwargs)
        return timed


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def send(self, msg: RawMessage, letter: DeadLetter) -> None:
        self.letters.append(letter)


TIMED_METHODS = ("load_due", "load_many", "flush")  # the repository's, where the tick's time goes


class Service:
    """Reminders' processing path in this process, timed by parts."""

    def __init__(self, engine: AsyncEngine, settings: ReminderSettings, tenants: Tenants) -> None:
        self.engine, self.prefix = engine, settings.topic_prefix
        self.parts = Parts()
        self.last: UnitOfWork | None = None
        self.dead_letters = RecordingDeadLetters()
        handlers = reminders_handlers.make_handlers(tenants)
        handlers["clock.tick"] = self.parts.wrap("tick handler", handlers["clock.tick"])
        self.processor = MessageProcessor("reminders", handlers, self.new_uow, self.dead_letters,
                                          settings.max_attempts, settings.retry_backoff_seconds)
        timed = {name: self.parts.wrap(name, getattr(RemindersRepository, name))
                 for name in TIMED_METHODS if hasattr(RemindersRepository, name)}
        self.repository = type("TimedRepository", (RemindersRepository,), timed)
        parts = self.parts

        class TimedUnitOfWork(UnitOfWork):
            async def commit(self):
                flushed = parts.seconds["flush"], parts.cpu["flush"]
                try:
                    with parts.timing("commit"):
                        return await super().commit()
                finally:  # the repository's flush, as the commit runs it
                    parts.seconds["commit flush"] += parts.seconds["flush"] - flushed[0]
                    parts.cpu["commit flush"] += parts.cpu["flush"] - flushed[1]

        self.unit_of_work = TimedUnitOfWork

    def new_uow(self) -> UnitOfWork:
        self.last = self.unit_of_work(self.engine, self.prefix, self.repository)
        return self.last


@contextmanager
def patched(parts: Parts):
    """Time the handler's calls of `domain.decide`, `emit` and `queue` (looked up at call time)."""
    saved = (reminders_domain.decide, reminders_handlers.emit, reminders_handlers.queue)
    reminders_domain.decide = parts.wrap("decide", saved[0])
    reminders_handlers.emit = parts.wrap("emit", saved[1])
    reminders_handlers.queue = parts.wrap("queue", saved[2])
    try:
        yield
    finally:
        reminders_domain.decide, reminders_handlers.emit, reminders_handlers.queue = saved


def memory_kb() -> dict[str, int]:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(status[k].split()[0]) for k in ("VmRSS", "VmHWM")}


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0), so the tick's own peak shows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def vacuum(engine: AsyncEngine, tables) -> None:
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await conn.execute(sa.text(f"VACUUM ANALYZE {table}"))


async def count(engine: AsyncEngine, stmt) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(stmt)


async def tick(engine: AsyncEngine, settings: ReminderSettings, tenants: Tenants, backends: Backends,
               due: int, profile: bool = False) -> dict:
    """One clock.tick through the processor; the outcome, times, memory, and what it wrote."""
    service = Service(engine, settings, tenants)
    ev = new_event("clock.tick", {"business_date": TICK_DAY.isoformat()}, source=SOURCE, tenantid=TENANT,
                   customerid=TENANT_CUSTOMERID, time=dt.datetime.combine(TICK_DAY, dt.time(0, 5), dt.UTC))
    [msg] = raw([ev], service.prefix)
    gc.collect()
    peak_reset = reset_peak_rss()
    rss_before = memory_kb()["VmRSS"]
    with patched(service.parts), profiled("the tick", profile):
        watch = Stopwatch(backends)
        outcome = await service.processor.process(msg)
        figures = watch.elapsed()
    mem = memory_kb()
    p = service.parts
    result = {
        "outcome": str(outcome), **figures,
        "memory": {"rss_before_mb": rss_before / 1024, "peak_rss_during_mb": mem["VmHWM"] / 1024 if peak_reset
                   else None, "rss_after_mb": mem["VmRSS"] / 1024,
                   "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
        "parts_seconds": {k: round(v, 3) for k, v in p.seconds.items()},
        "parts_calls": dict(p.calls),
    }
    if outcome is not Outcome.APPLIED:
        result["dead_letters"] = [{"kind": x.kind, "error": x.error[:300], "attempts": x.attempts}
                                  for x in service.dead_letters.letters]
        return result
    def breakdown(part: Counter, total: float) -> dict[str, float]:
        handler, commit = part["tick handler"], part["commit"]
        return {
            "load_due (SELECT … next_review <= day FOR UPDATE, Debtor.from_dict)": part["load_due"],
            "load_many (views not loaded yet)": part["load_many"],
            "domain.decide": part["decide"],
            "emit (new_event per outcome)": part["emit"],
            "queue (message rows)": part["queue"],
            "rest of the handler's loop (policy, calendar, …)": handler - sum(
                part[k] for k in ("load_due", "load_many", "decide", "emit", "queue")),
            "flush at commit (to_dict, next_review, upsert debtors, INSERT messages)": part["commit flush"],
            "outbox INSERT (encode) and COMMIT": commit - part["commit flush"],
            "claim, decode, begin, close": total - handler - commit,
        }

    result["breakdown_seconds"] = breakdown(p.seconds, figures["seconds"])
    result["breakdown_cpu_seconds"] = breakdown(p.cpu, figures["cpu_seconds"])
    result["decisions"] = due
    result["decisions_per_s"] = due / figures["seconds"]
    result["us_per_decision"] = {k: 1e6 * v / due for k, v in result["breakdown_seconds"].items()}
    result["cpu_us_per_decision"] = {k: 1e6 * v / due for k, v in result["breakdown_cpu_seconds"].items()}
    emitted = service.last.emitted
    result["events_emitted_by_type"] = dict(sorted(Counter(e.type for e in emitted).items()))
    result["suppressions_by_reason"] = dict(sorted(Counter(
        str(e.data.reason)
        for e in emitted if e.type == "reminder.suppressed").items()))
    result["tasks_by_kind"] = dict(sorted(Counter(
        str(e.data.kind)
        for e in emitted if e.type == "task.created").items()))
    async with engine.connect() as conn:
        result["outbox_rows_by_type"] = dict(sorted((await conn.execute(sa.text(
            "SELECT h->>1, count(*) FROM outbox, json_array_elements(headers) h WHERE h->>0 = 'ce_type' "
            "GROUP BY 1"))).all()))
        result["messages_queued_by_step"] = dict(sorted((await conn.execute(
            sa.select(messages.c.step, sa.func.count()).group_by(messages.c.step))).all()))
        result["debtors_with_a_message"] = await conn.scalar(
            sa.select(sa.func.count(messages.c.customerid.distinct())))
        result["still_due_after_the_tick"] = await conn.scalar(sa.select(sa.func.count()).select_from(debtors).where(
            debtors.c.tenantid == TENANT, debtors.c.next_review <= TICK_DAY))
    result["debtors_with_an_outcome_or_message"] = len(
        {e.customerid for e in emitted} | set(await _message_debtors(engine)))
    if sum(result["outbox_rows_by_type"].values()) != len(emitted):
        raise RuntimeError(f"{len(emitted)} events emitted, outbox holds {result['outbox_rows_by_type']}")
    return result


async def _message_debtors(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list(await conn.scalars(sa.select(messages.c.customerid).distinct()))


async def bench(n: int, database_url: str, batch: int, profile: bool) -> dict:
    run_id = uuid.uuid4().hex[:10]
    schema = f"reminders_bench_{run_id}"
    tmp = Path(tempfile.mkdtemp(prefix="softcollect-bench-"))
    (tmp / "config" / "tenants").mkdir(parents=True)
    (tmp / "config" / "tenants" / f"{TENANT}.yaml").write_text(
        "name: Bench S.r.l.\nsimulated: true\ncountry: IT\nlanguage: it\n")
    settings = ReminderSettings(database_url=database_url, db_schema=schema, config_dir=tmp / "config",
                                data_dir=tmp / "data")
    tenants = Tenants(settings)
    engine = create_engine(database_url, schema)
    backends = Backends(engine, database_url)
    load_avg, code = {"start": os.getloadavg()}, code_state()  # the code as this process imported it
    try:
        migrate(database_url, schema, MIGRATIONS)
        print(f"setup: {n} debtor views and contacts, plain inserts of {batch} rows per transaction …", flush=True)
        baseline = await setup(engine, tenants, n, batch, backends)
        load_avg["after_setup"] = os.getloadavg()
        await vacuum(engine, ("debtors", "contacts"))  # what autovacuum does after a bulk load; not timed
        due = await count(engine, sa.select(sa.func.count()).select_from(debtors).where(
            debtors.c.tenantid == TENANT, debtors.c.next_review <= TICK_DAY))
        items = await count(engine, sa.select(sa.func.sum(sa.func.json_array_length(debtors.c.state["items"]))))
        print(f"tick for {TICK_DAY}: {due} debtors due …", flush=True)
        ticked = await tick(engine, settings, tenants, backends, due, profile)
        print(f"  {ticked['outcome']} in {ticked['seconds']:.1f} s", flush=True)
        load_avg["after_tick"] = os.getloadavg()
        outbox_rows = await count(engine, sa.select(sa.func.count()).select_from(outbox))
    finally:
        await engine.dispose()
        drop_schema(database_url, schema)
        shutil.rmtree(tmp, ignore_errors=True)
    applied = ticked if ticked["outcome"] == Outcome.APPLIED else None
    raw_rate = baseline["debtors"]["rows_per_s"]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "debtors": n, "open_items": items,
        "batch": batch, "tick_day": TICK_DAY.isoformat(), "profiled": profile,
        "database": make_url(database_url).render_as_string(hide_password=True), "cores": os.cpu_count(),
        "machine": f"{platform.node()} {platform.machine()}", "python": platform.python_version(),
        "load_average": {k: [round(x, 2) for x in v] for k, v in load_avg.items()}, "code": code,
        "raw_inserts": baseline, "debtors_due": due, "tick": ticked, "outbox_rows_after": outbox_rows,
        "decisions_per_s": applied and applied["decisions_per_s"],
        "ratio_decisions_per_s_to_raw_debtor_rows_per_s": applied and applied["decisions_per_s"] / raw_rate,
        "ratio_raw_seconds_to_tick_seconds": applied and baseline["debtors"]["seconds"] / applied["seconds"],
    }


def report(r: dict) -> str:
    def cpu(f: dict) -> str:
        db = "n/a" if f["db_cpu_seconds"] is None else f"{f['db_cpu_seconds']:.1f} s"
        return f"CPU {f['cpu_seconds']:.1f} s here, {db} in PostgreSQL"

    b = r["raw_inserts"]
    lines = [
        f"reminders decisions — {r['debtors']} debtors ({r['open_items']} open items), {r['debtors_due']} due on "
        f"{r['tick_day']}, {r['cores']} cores, load average {r['load_average']['start'][0]} at start, code "
        f"{r['code']['commit']}{' + uncommitted' if r['code']['uncommitted'] else ''}, {r['date']}",
    ]
    for name in ("debtors", "contacts"):
        f = b[name]
        lines.append(f"  raw {name:9} {f['rows']:8d} rows {f['seconds']:7.1f} s {f['rows_per_s']:7.0f} rows/s  "
                     f"{cpu(f)}")
    for t in [r["tick"]]:
        m = t["memory"]
        lines.append(f"  tick: {t['outcome']} after {t['seconds']:.1f} s, {cpu(t)}; "
                     f"RSS {m['rss_before_mb']:.0f} MB before, peak {m['peak_rss_during_mb'] or 0:.0f} MB")
        if t["outcome"] != Outcome.APPLIED:
            lines += [f"    dead letter: {x['kind']}: {x['error'][:160]}" for x in t.get("dead_letters", [])]
            continue
        lines.append(f"    {t['decisions']} decisions: {t['decisions_per_s']:.0f} decisions/s")
        lines.append(f"    {'part':72} {'wall':>9} {'µs/debtor wall / CPU':>21}")
        lines += [f"    {k:72} {v:7.2f} s {t['us_per_decision'][k]:9.0f} / {t['cpu_us_per_decision'][k]:5.0f}"
                  for k, v in t["breakdown_seconds"].items()]
        lines.append(f"    outbox: {', '.join(f'{k} {v}' for k, v in t['outbox_rows_by_type'].items())}")
        lines.append(f"    suppressed: {', '.join(f'{k} {v}' for k, v in t['suppressions_by_reason'].items())}; "
                     f"tasks: {', '.join(f'{k} {v}' for k, v in t['tasks_by_kind'].items())}")
        lines.append(f"    messages queued: {', '.join(f'{k} {v}' for k, v in t['messages_queued_by_step'].items())} "
                     f"({t['debtors_with_a_message']} debtors); still due after the tick (frequency cap): "
                     f"{t['still_due_after_the_tick']}")
    if r["decisions_per_s"]:
        lines.append("  ratio decisions/s ÷ raw debtor rows/s: "
                     f"{r['ratio_decisions_per_s_to_raw_debtor_rows_per_s']:.3f} (the raw inserts take "
                     f"{r['ratio_raw_seconds_to_tick_seconds']:.1%} of the tick's time)")
    return "\n".join(lines)


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_DEBTORS} debtors")
    parser.add_argument("--database-url", default=os.environ.get("SOFTCOLLECT_BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--batch", type=int, default=500, help="raw rows per transaction in the setup")
    parser.add_argument("--profile", action="store_true", help="cProfile the tick; no results file")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("the benchmark runs on PostgreSQL")
    logs.configure("CRITICAL", "console", "reminders")  # a dead-lettered tick is reported below, without its SQL
    n = QUICK_DEBTORS if args.quick else args.debtors
    result = asyncio.run(bench(n, args.database_url, args.batch, args.profile))
    print(report(result))
    if args.profile:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
