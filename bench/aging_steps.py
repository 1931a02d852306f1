"""Where aging's time per applied event goes: the load of ``aging_load.py`` with each step of the
debtor-event handler timed.

    .venv/bin/python bench/aging_steps.py [--debtors N] [--items-per-debtor K] [--database-url URL]

The same portfolio, schema setup and processing path as ``aging_load.py`` (N defaults to 1,000), with
the steps of a batch wrapped in timers of their own time (``STEPS``): the processor's decode and
``claim_many``, the repository's reads and its write-back, the ledger's (de)serialisation and review
date, the domain transition, building the outcome events (``new_event``), and the commit (encode,
INSERT outbox, COMMIT). "rest" is the load's time the steps leave: the processor's loop, the unit of
work's begin and close, the event loop. Wall and CPU per applied event, of this process; the figures
go to ``bench/results/aging_steps.json``. The timers cost a few µs per call.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from aging_load import LOAD_DAY, TENANT, Backends, Service, load, portfolio, raw, tick_event
from ingest_throughput import DEFAULT_PG, REPO, drop_schema

import softcollect_aging.handlers as aging_handlers
import softcollect_runtime.processing as processing
from softcollect_aging.app import MIGRATIONS
from softcollect_aging.config import AgingSettings
from softcollect_aging.domain import Ledger
from softcollect_aging.store import AgingRepository
from softcollect_runtime import logs
from softcollect_runtime.db import create_engine, migrate
from softcollect_runtime.uow import UnitOfWork

RESULTS = Path(__file__).resolve().parent / "results" / "aging_steps.json"

# (owner, attribute, step), as the code stands (df5dca3 and later: ledgers held in the unit of work,
# written back by ``AgingRepository.flush`` at commit). The callers look these up at call time.
STEPS = [
    (processing, "decode", "decode (processor)"),
    (UnitOfWork, "claim_many", "claim_many: INSERT processed_events (per batch)"),
    (AgingRepository, "business_date", "repo.business_date: SELECT (cached per batch)"),
    (AgingRepository, "load", "repo.load: SELECT … FOR UPDATE (per debtor and batch)"),
    (Ledger, "from_dict", "Ledger.from_dict"),
    (aging_handlers, "apply", "domain transition + evaluate_lock"),
    (aging_handlers, "emit", "emit: new_event builds and validates the outcomes"),
    (Ledger, "to_dict", "Ledger.to_dict (flush)"),
    (Ledger, "next_review", "Ledger.next_review (flush)"),
    (AgingRepository, "flush", "repo.flush: upsert ledgers, INSERT journal (per batch)"),
    (UnitOfWork, "commit", "commit: encode, INSERT outbox, COMMIT (per batch)"),
]


def instrument(totals: dict[str, list[float]]) -> list[str]:
    """Wrap the steps in timers of their own time (a step nested in another, such as ``flush`` in
    ``commit``, counts in its own row only). The load runs one task at a time, so a stack suffices.
    Returns the steps the code no longer has."""
    stack: list[list[float]] = []  # per open step: wall and CPU of the steps nested in it

    def enter() -> tuple[float, float]:
        stack.append([0.0, 0.0])
        return time.perf_counter(), time.process_time()

    def leave(step: str, wall: float, cpu: float) -> None:
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        nested = stack.pop()
        totals[step][0] += wall - nested[0]
        totals[step][1] += cpu - nested[1]
        if stack:
            stack[-1][0] += wall
            stack[-1][1] += cpu

    def timer(step: str, fn):
        if inspect.iscoroutinefunction(fn):
            async def timed_async(*args, **kwargs):
                wall, cpu = enter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    leave(step, wall, cpu)
            return timed_async

        def timed(*args, **kwargs):
            wall, cpu = enter()
            try:
                return fn(*args, **kwargs)
            finally:
                leave(step, wall, cpu)
        return timed

    missing = []
    for owner, name, step in STEPS:
        if not hasattr(owner, name):
            missing.append(step)
            continue
        timed = timer(step, getattr(owner, name))  # a classmethod comes bound: it stays bound, as a staticmethod
        setattr(owner, name, staticmethod(timed) if isinstance(inspect.getattr_static(owner, name), classmethod)
                else timed)
    return missing


async def steps(debtors: int, per_debtor: int, database_url: str) -> dict:
    schema = f"aging_bench_{uuid.uuid4().hex[:10]}"
    tmp = Path(tempfile.mkdtemp(prefix="softcollect-bench-"))
    (tmp / "config" / "tenants").mkdir(parents=True)
    (tmp / "config" / "tenants" / f"{TENANT}.yaml").write_text("name: Bench S.r.l.\nsimulated: true\n")
    settings = AgingSettings(database_url=database_url, db_schema=schema, config_dir=tmp / "config",
                             data_dir=tmp / "data")
    engine = create_engine(database_url, schema)
    backends = Backends(engine, database_url)
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    try:
        migrate(database_url, schema, MIGRATIONS)
        events, _ = portfolio(debtors, per_debtor)
        msgs = raw(events, settings.topic_prefix)
        service = Service(engine, settings)
        await service.processor.process(raw([tick_event(LOAD_DAY)], service.prefix)[0])
        missing = instrument(totals)
        applied = await load(service, msgs, 500, backends)
    finally:
        await engine.dispose()
        drop_schema(database_url, schema)
        shutil.rmtree(tmp, ignore_errors=True)
    n = applied["events"]
    rows = [{"step": step, "us_per_event": 1e6 * totals[step][0] / n, "cpu_us_per_event": 1e6 * totals[step][1] / n}
            for _, _, step in STEPS if step not in missing]
    rows.append({"step": "rest", "us_per_event": 1e6 * applied["seconds"] / n - sum(r["us_per_event"] for r in rows),
                 "cpu_us_per_event": 1e6 * applied["cpu_seconds"] / n - sum(r["cpu_us_per_event"] for r in rows)})
    return {"debtors": debtors, "items_per_debtor": per_debtor, "events": n, "events_per_s": applied["events_per_s"],
            "us_per_event": 1e6 * applied["seconds"] / n, "cpu_us_per_event": 1e6 * applied["cpu_seconds"] / n,
            "db_cpu_us_per_event": None if applied["db_cpu_seconds"] is None else
            1e6 * applied["db_cpu_seconds"] / n, "steps": rows, "steps_not_in_the_code": missing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debtors", type=int, default=1000)
    parser.add_argument("--items-per-debtor", type=int, default=10)
    parser.add_argument("--database-url", default=DEFAULT_PG)
    args = parser.parse_args()
    logs.configure("WARNING", "console", "aging")
    r = asyncio.run(steps(args.debtors, args.items_per_debtor, args.database_url))
    db = "n/a" if r["db_cpu_us_per_event"] is None else f"{r['db_cpu_us_per_event']:.0f}"
    print(f"aging steps — {r['events']} events ({r['debtors']} debtors × {r['items_per_debtor']} items), "
          f"{r['events_per_s']:.0f} events/s with the timers on")
    print(f"  {'step':52} {'µs/event':>9} {'CPU µs/event':>13}")
    for s in r["steps"]:
        print(f"  {s['step']:52} {s['us_per_event']:9.0f} {s['cpu_us_per_event']:13.0f}")
    print(f"  {'total':52} {r['us_per_event']:9.0f} {r['cpu_us_per_event']:13.0f}   (PostgreSQL backend: {db})")
    if r["steps_not_in_the_code"]:
        print(f"  not timed (not in the code any more): {', '.join(r['steps_not_in_the_code'])}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(r, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
