"""Where ingest's time goes: its intake path stage by stage, in this process (no consumer, no faust).

    .venv/bin/python bench/ingest_stages.py [--events N] [--database sqlite|postgres] [--batch B]

Each stage runs over N fresh events of the throughput benchmark's workload and reports wall and
CPU time per event (CPU of the whole process, so aiosqlite's worker thread counts; the database
server's own CPU does not):

- decode: ``softcollect_events.decode`` of the inbound bytes (envelope and payload validation);
- encode: ``softcollect_events.encode`` of the decoded events, as the unit of work does for the outbox;
- service path, 1 message per transaction: ``MessageProcessor.process`` with ingest's intake — what
  a lone message, or a failed batch redone message by message, costs;
- service path, B messages per transaction: ``MessageProcessor.process_batch``, as the Kafka intake
  runs it, then the same path for valid events split at its awaits: begin, decode + screen,
  ``claim_many``, emit + commit (encode, INSERT outbox, COMMIT), close;
- outbox relay: ``OutboxRelay.publish_batch`` to the broker until the outbox (every row the stages
  wrote) is empty.

Figures go to ``bench/results/ingest_stages.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from ingest_throughput import DEFAULT_PG, PARTITIONS, REPO, TENANT, drop_schema, drop_topics, workload

from softcollect_events import Topic, all_topics, decode, encode, topic_name
from softcollect_ingest.app import build
from softcollect_ingest.config import IngestSettings, TenantDirectory
from softcollect_ingest.domain import screen
from softcollect_runtime.db import migrate
from softcollect_runtime.dlq import RawMessage
from softcollect_runtime.kafka import ensure_topics, make_producer
from softcollect_runtime.outbox import OutboxRelay
from softcollect_runtime.processing import MessageProcessor, Outcome
from softcollect_runtime.service import Runtime
from softcollect_runtime.settings import KafkaSettings

RESULTS = Path(__file__).resolve().parent / "results" / "ingest_stages.json"


async def timed(name: str, n: int, work: Callable[[], Awaitable[object]]) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    await work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"stage": name, "events": n, "us_per_event": 1e6 * wall / n, "cpu_us_per_event": 1e6 * cpu / n,
            "events_per_s": n / wall}


class Laps:
    """Wall and CPU time spent in each named step, summed over the run."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.mark()

    def mark(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, step: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[step] = self.wall.get(step, 0.0) + wall - self._wall
        self.cpu[step] = self.cpu.get(step, 0.0) + cpu - self._cpu
        self._wall, self._cpu = wall, cpu

    def per_event(self, n: int) -> list[dict]:
        return [{"step": k, "us_per_event": 1e6 * self.wall[k] / n, "cpu_us_per_event": 1e6 * self.cpu[k] / n}
                for k in self.wall]


async def stages(n: int, database: str, batch: int) -> dict:
    run_id = uuid.uuid4().hex[:10]
    prefix, schema = f"bench{run_id}.", f"bench_{run_id}"
    tmp = Path(tempfile.mkdtemp(prefix="softcollect-bench-"))
    (tmp / "config" / "tenants").mkdir(parents=True)
    (tmp / "config" / "tenants" / f"{TENANT}.yaml").write_text("name: Bench S.r.l.\nsimulated: true\n")
    database_url = (os.environ.get("SOFTCOLLECT_BENCH_DATABASE_URL", DEFAULT_PG) if database == "postgres"
                    else f"sqlite+aiosqlite:///{tmp / 'ingest.db'}")
    spec, settings = build(IngestSettings(database_url=database_url, db_schema=schema, topic_prefix=prefix,
                                          config_dir=tmp / "config", data_dir=tmp / "data"))
    kafka = KafkaSettings()
    runtime = Runtime(spec, settings)
    producer = make_producer(kafka, client_id="bench-stages")
    try:
        migrate(database_url, schema, spec.migrations)
        await ensure_topics(kafka, all_topics(prefix, ["ingest"], [TENANT]), PARTITIONS)
        inbound = topic_name(Topic.inbound, prefix, TENANT)
        records = workload(3 * n, prefix)
        msgs = [RawMessage(inbound, 0, i, r.key, r.value, tuple(r.headers), time.time()) for i, r in enumerate(records)]
        fresh = [msgs[i * n:(i + 1) * n] for i in range(3)]  # each service stage claims events never seen
        tenants = TenantDirectory(tmp / "config")
        processor = MessageProcessor("ingest", {}, runtime.new_uow, dead_letters=None, intake=spec.intake(runtime))
        outcomes: list[Outcome] = []
        laps = Laps()

        async def decode_all() -> None:
            for m in fresh[0]:
                decode(m.value)

        events = [decode(m.value) for m in fresh[0]]

        async def encode_all() -> None:
            for e in events:
                encode(e, prefix)

        async def one_per_transaction() -> None:
            for m in fresh[0]:
                outcomes.append(await processor.process(m))

        async def batched() -> None:
            for start in range(0, n, batch):
                outcomes.extend(await processor.process_batch(fresh[1][start:start + batch]))

        async def batched_steps() -> None:
            for start in range(0, n, batch):
                laps.mark()
                uow = runtime.new_uow()
                await uow.__aenter__()
                laps.lap("begin")
                decoded = [decode(m.value) for m in fresh[2][start:start + batch]]
                if any(screen(e, TENANT, tenants.facts(TENANT), None) for e in decoded):
                    raise RuntimeError("the workload holds an event the gate refuses")
                laps.lap("decode + screen")
                claimed = await uow.claim_many(decoded)
                laps.lap("claim_many (INSERT processed_events … RETURNING)")
                for e in decoded:
                    uow.emit(e)
                await uow.commit()
                laps.lap("emit + commit (encode, INSERT outbox, COMMIT)")
                await uow.__aexit__(None, None, None)
                laps.lap("close")
                outcomes.extend(Outcome.APPLIED if c else Outcome.DUPLICATE for c in claimed)

        async def relay_all() -> None:
            relay = OutboxRelay(runtime.engine, producer, "ingest", settings.outbox_batch_size)
            while await relay.publish_batch():
                pass

        await producer.start()
        results = [
            await timed("decode", n, decode_all),
            await timed("encode", n, encode_all),
            await timed("service path, 1 message per transaction", n, one_per_transaction),
            await timed(f"service path, {batch} messages per transaction", n, batched),
            await timed("  the same, valid events, step by step", n, batched_steps),
            await timed(f"outbox relay (batch {settings.outbox_batch_size})", 3 * n, relay_all),
        ]
        if outcomes != [Outcome.APPLIED] * (3 * n):
            raise RuntimeError(f"not every event was applied: {sorted(set(outcomes))}")
    finally:
        await producer.stop()
        await runtime.engine.dispose()
        await drop_topics(kafka, prefix)
        if database == "postgres":
            drop_schema(database_url, schema)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"events": n, "database": database, "batch": batch, "cores": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()], "stages": results,
            "steps": laps.per_event(n)}


def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader elections of the fresh topics are retried
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--batch", type=int, default=500, help="messages per transaction of the batched stages")
    args = parser.parse_args()
    result = asyncio.run(stages(args.events, args.database, args.batch))
    print(f"ingest stages — {result['events']} events, {result['database']}, {result['cores']} cores")
    print(f"  {'stage':52} {'µs/event':>9} {'CPU µs/event':>13} {'events/s':>9}")
    for s in result["stages"]:
        print(f"  {s['stage']:52} {s['us_per_event']:9.0f} {s['cpu_us_per_event']:13.0f} {s['events_per_s']:9.0f}")
        if "step by step" in s["stage"]:
            for t in result["steps"]:
                print(f"      {t['step']:48} {t['us_per_event']:9.0f} {t['cpu_us_per_event']:13.0f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
