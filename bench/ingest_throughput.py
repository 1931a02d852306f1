"""Ingest throughput against a plain aiokafka pass-through of the same messages, in one run.

    .venv/bin/python bench/ingest_throughput.py [--events N] [--rounds R] [--database sqlite|postgres] [--profile]

Per round, N valid inbound events of one tenant are pre-loaded onto its inbound topic, then read in
turn by a plain consume→produce pass-through (what any Kafka-to-Kafka stage on this machine can reach
at best), by the real ingest service process, and by the pass-through again (so drift of a shared
machine shows); ingest's ratio is to the two pass-throughs' mean. The report gives each round's
rates and ratio, and judges the target on the median ratio of the R rounds; the figures also go to
``bench/results/ingest_throughput.json``. What each window measures: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import platform
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from softcollect_events import KafkaRecord, Topic, all_topics, encode, example_data, new_event, topic_name
from softcollect_ingest.config import IngestSettings
from softcollect_runtime.db import sync_url
from softcollect_runtime.kafka import ensure_topics, make_producer
from softcollect_runtime.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "ingest_throughput.json"
DEFAULT_PG = "postgresql+asyncpg://softcollect@127.0.0.1:55432/softcollect"
TENANT = "bench"
PARTITIONS = 6  # the services' default partition count
TARGET = 0.5  # ingest must reach half the pass-through's rate
# Per customer: ten consecutive events, 5 invoices, 3 payments, 2 master-data upserts.
MIX = ["invoice.issued"] * 5 + ["payment.received"] * 3 + ["customer.upserted"] * 2
FORWARDED_TO = [Topic.invoices, Topic.payments, Topic.customers]
STALL_SECONDS = 120.0  # no progress for this long fails the run


def workload(n: int, prefix: str) -> list[KafkaRecord]:
    """N valid inbound events of the bench tenant across n/10 customers, encoded for its inbound topic."""
    base = {t: example_data(t)[0] for t in set(MIX)}
    now = dt.datetime.now(dt.UTC)
    records = []
    for i in range(n):
        type_ = MIX[i % len(MIX)]
        data = dict(base[type_])
        if type_ == "invoice.issued":
            data.update(invoice_id=f"INV-{i:08d}", number=f"B/{i}")
        elif type_ == "payment.received":
            data.update(payment_id=f"PAY-{i:08d}", invoice_refs=[f"B/{i - 5}"], remittance=f"Saldo B/{i - 5}")
        else:
            data.update(name=f"Bench customer {i // 10}")
        event = new_event(type_, data, source="erp/bench", tenantid=TENANT, customerid=f"C-{i // 10:06d}", time=now)
        records.append(encode(event, prefix, topic=Topic.inbound))
    return records


async def preload(kafka: KafkaSettings, topic: str, records: list[KafkaRecord]) -> None:
    producer = make_producer(kafka, client_id="bench-preload")
    await producer.start()
    try:
        acks = [await producer.send(topic, value=r.value, key=r.key, headers=r.headers) for r in records]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def passthrough(kafka: KafkaSettings, source: str, sink: str, group: str, n: int,
                      library_defaults: bool = False) -> dict:
    """The baseline: consume, forward each record (idempotent producer), await the acks, commit — per batch.

    The producer is the runtime's own (``make_producer``, as ingest's relay uses), or with
    ``library_defaults`` aiokafka's defaults but for the same delivery guarantees (idempotence,
    acks=all). Timed from the first record consumed to the last forwarded record acknowledged.
    """
    consumer = AIOKafkaConsumer(source, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_poll_records=500, **kafka.aiokafka_options())
    producer = (AIOKafkaProducer(client_id="bench-passthrough", enable_idempotence=True, acks="all",
                                 **kafka.aiokafka_options()) if library_defaults
                else make_producer(kafka, client_id="bench-passthrough"))
    await consumer.start()
    await producer.start()
    done, first, last, cpu = 0, None, None, time.process_time()
    try:
        stall = time.monotonic() + STALL_SECONDS
        while done < n:
            if time.monotonic() > stall:
                raise RuntimeError(f"pass-through stalled at {done} of {n}")
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                continue
            first = first or time.perf_counter()
            acks = [await producer.send(sink, value=r.value, key=r.key, headers=list(r.headers))
                    for records in batch.values() for r in records]
            await asyncio.gather(*acks)
            last = time.perf_counter()
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
            done += len(acks)
            stall = time.monotonic() + STALL_SECONDS
        cpu = time.process_time() - cpu
    finally:
        await consumer.stop()
        await producer.stop()
    return {"events": done, "seconds": last - first, "events_per_s": done / (last - first), "cpu_seconds": cpu}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServiceProcess:
    """``python -m softcollect_<name>`` in the run's topic namespace, its own schema, the run's config."""

    def __init__(self, name: str, tmp: Path, prefix: str, database_url: str, schema: str,
                 extra: dict[str, str] | None = None, profile: Path | None = None) -> None:
        self.name, self.schema, self.profile = name, schema, profile
        self.log = tmp / f"{name}.log"
        self.port = free_port()
        self.env = {**os.environ, "SOFTCOLLECT_TOPIC_PREFIX": prefix, "SOFTCOLLECT_DATABASE_URL": database_url,
                    "SOFTCOLLECT_CONFIG_DIR": str(tmp / "config"), "SOFTCOLLECT_WEB_PORT": str(self.port),
                    "SOFTCOLLECT_DB_SCHEMA": schema, "SOFTCOLLECT_LOG_LEVEL": "WARNING",
                    "SOFTCOLLECT_DATA_DIR": str(tmp / "data"), **(extra or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            profiler = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
            self.proc = subprocess.Popen([sys.executable, *profiler, "-m", f"softcollect_{self.name}"], cwd=REPO,
                                         env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready in {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.2)

    def ready(self) -> bool:
        self.check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc and self.proc.returncode}):\n{self.tail()}")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


def partitions(topics: list[str]) -> list[TopicPartition]:
    return [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]


async def wait_for_records(kafka: KafkaSettings, topics: list[str], n: int, ingest: ServiceProcess) -> None:
    """Until the topics hold n records, watching end offsets only (so the watcher costs ingest no CPU)."""
    consumer = AIOKafkaConsumer(group_id=None, **kafka.aiokafka_options())
    await consumer.start()
    try:
        seen, stall = -1, time.monotonic() + STALL_SECONDS
        while True:
            count = sum((await consumer.end_offsets(partitions(topics))).values())
            if count >= n:
                return
            if count > seen:
                seen, stall = count, time.monotonic() + STALL_SECONDS
            if time.monotonic() > stall:
                raise RuntimeError(f"ingest stalled at {count} of {n} forwarded:\n{ingest.tail()}")
            ingest.check_alive()
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()


async def read_all(kafka: KafkaSettings, topics: list[str]) -> list:
    """Every record on the topics now (up to the end offsets at the start)."""
    consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **kafka.aiokafka_options())
    await consumer.start()
    try:
        tps = partitions(topics)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out = []
        while behind := [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*behind, timeout_ms=1000)
            out.extend(r for records in batch.values() for r in records if r.offset < ends[TopicPartition(
                r.topic, r.partition)])
        return out
    finally:
        await consumer.stop()


async def read_offsets(kafka: KafkaSettings, topics: list[str]) -> list[int]:
    consumer = AIOKafkaConsumer(group_id=None, **kafka.aiokafka_options())
    await consumer.start()
    try:
        return list((await consumer.end_offsets(partitions(topics))).values())
    finally:
        await consumer.stop()


async def run_ingest(kafka: KafkaSettings, ingest: ServiceProcess, prefix: str, n: int) -> dict:
    """Start ingest and wait for its n-th forwarded event. Timed by the broker (CreateTime, stamped by the
    outbox relay's producer) of the first and the last forwarded record. Ingest took in its first batch
    before the first record went out, so the rate counts the events after it: (n - batch) / window."""
    outputs = [topic_name(t, prefix) for t in FORWARDED_TO]
    ingest.start()
    ingest.wait_ready()
    cpu = ingest.cpu()
    await wait_for_records(kafka, outputs, n, ingest)
    cpu = ingest.cpu() - cpu
    ingest.stop()
    records = await read_all(kafka, outputs)
    ids = {dict(r.headers)["ce_id"] for r in records}
    if len(ids) != n or len(records) != n:
        raise RuntimeError(f"ingest forwarded {len(records)} records ({len(ids)} distinct ids), expected {n}")
    refused = sum(await read_offsets(kafka, [topic_name(Topic.rejected, prefix), f"{prefix}ingest.dlq"]))
    seconds = (max(r.timestamp for r in records) - min(r.timestamp for r in records)) / 1000
    batch = IngestSettings().batch_size  # as the ingest process reads it, from the same environment
    return {"events": n, "seconds": seconds, "events_per_s": (n - batch) / seconds, "batch_size": batch,
            "events_per_s_uncorrected": n / seconds, "cpu_seconds_from_ready": cpu,
            "rejected_or_dead_lettered": refused}


async def drop_topics(kafka: KafkaSettings, prefix: str) -> None:
    admin = AIOKafkaAdminClient(client_id="bench-cleanup", **kafka.aiokafka_options())
    await admin.start()
    try:
        await admin.delete_topics([t for t in await admin.list_topics() if t.startswith(prefix)])
    finally:
        await admin.close()


def drop_schema(database_url: str, schema: str) -> None:
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def code_state() -> dict:
    """The commit measured, and what in libs/ and services/ differs from it (the tree is shared)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": git("status", "--porcelain", "--", "libs", "services").splitlines()}


async def one_round(kafka: KafkaSettings, n: int, database: str, profile: bool) -> dict:
    """Pass-through, ingest, pass-through on N fresh messages, in a topic namespace, database schema
    and config directory of the round's own (removed at its end)."""
    run_id = uuid.uuid4().hex[:10]
    prefix, schema = f"bench{run_id}.", f"bench_{run_id}"
    tmp = Path(tempfile.mkdtemp(prefix="softcollect-bench-"))
    (tmp / "config" / "tenants").mkdir(parents=True)
    (tmp / "config" / "tenants" / f"{TENANT}.yaml").write_text("name: Bench S.r.l.\nsimulated: true\n")
    database_url = (os.environ.get("SOFTCOLLECT_BENCH_DATABASE_URL", DEFAULT_PG) if database == "postgres"
                    else f"sqlite+aiosqlite:///{tmp / 'ingest.db'}")
    inbound = topic_name(Topic.inbound, prefix, TENANT)
    load = os.getloadavg()
    ingest = ServiceProcess("ingest", tmp, prefix, database_url, schema,
                            profile=tmp / "ingest.prof" if profile else None)
    try:
        await ensure_topics(kafka, all_topics(prefix, ["ingest"], [TENANT]) + [f"{prefix}passthrough"], PARTITIONS)
        print(f"generating and pre-loading {n} events onto {inbound} …", flush=True)
        await preload(kafka, inbound, workload(n, prefix))
        print("baseline: aiokafka pass-through …", flush=True)
        before = await passthrough(kafka, inbound, f"{prefix}passthrough", f"{prefix}passthrough-before", n)
        print(f"ingest on {database}{' (under cProfile: not a benchmark figure)' if profile else ''} …", flush=True)
        code = code_state()  # as the ingest process imports it
        result = await run_ingest(kafka, ingest, prefix, n)
        if profile:
            pstats.Stats(str(tmp / "ingest.prof")).sort_stats("tottime").print_stats(30)
            pstats.Stats(str(tmp / "ingest.prof")).sort_stats("cumulative").print_stats(40)
        print("baseline again: aiokafka pass-through …", flush=True)
        after = await passthrough(kafka, inbound, f"{prefix}passthrough", f"{prefix}passthrough-after", n)
        print("for information: a pass-through with aiokafka's default producer settings …", flush=True)
        plain = await passthrough(kafka, inbound, f"{prefix}passthrough", f"{prefix}passthrough-plain", n,
                                  library_defaults=True)
    except BaseException:
        if ingest.log.exists():
            print(f"ingest log:\n{ingest.tail()}", file=sys.stderr)
        raise
    finally:
        ingest.stop()
        await drop_topics(kafka, prefix)
        if database == "postgres":
            drop_schema(database_url, schema)
        shutil.rmtree(tmp, ignore_errors=True)
    # The pass-through runs before and after ingest, so a shared machine's drift shows; ingest is held
    # against their mean.
    baseline = {"events_per_s": (before["events_per_s"] + after["events_per_s"]) / 2, "before": before,
                "after": after}
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "load_average_at_start":
        [round(x, 2) for x in load], "code": code, "baseline": baseline, "ingest": result,
        "ratio": result["events_per_s"] / baseline["events_per_s"],
        "plain_passthrough": plain, "ratio_to_plain": result["events_per_s"] / plain["events_per_s"],
    }


async def bench(n: int, database: str, profile: bool, rounds: int) -> dict:
    """`rounds` rounds in a row; the target is judged on the median of their ratios, since on a
    shared machine one round's ratio moves with what else runs during its ingest window."""
    kafka = KafkaSettings()
    results = []
    for r in range(1, rounds + 1):
        print(f"— round {r} of {rounds}", flush=True)
        results.append(await one_round(kafka, n, database, profile))
    ratios = [r["ratio"] for r in results]
    median = statistics.median(ratios)
    return {
        "date": results[0]["date"], "events": n, "database": database, "profiled": profile,
        "cores": os.cpu_count(), "machine": f"{platform.node()} {platform.machine()}",
        "python": platform.python_version(), "rounds": results, "ratios": ratios, "ratio": median,
        "rounds_meeting_target": sum(x >= TARGET for x in ratios), "target": TARGET, "target_met": median >= TARGET,
    }


def report(result: dict) -> str:
    def rate(name: str, figures: dict, note: str) -> str:
        return f"  {name:30} {figures['events_per_s']:7.0f} events/s  ({figures['seconds']:.2f} s, {note})"

    lines = [f"ingest throughput — {result['events']} events, {result['database']}, {result['cores']} cores, "
             f"{len(result['rounds'])} round(s) from {result['date']}"]
    for k, r in enumerate(result["rounds"], 1):
        b, i = r["baseline"], r["ingest"]
        lines += [
            f" round {k} ({r['date']}, load {r['load_average_at_start'][0]:.2f}):",
            rate("pass-through before ingest", b["before"], f"{b['before']['cpu_seconds']:.2f} s CPU"),
            rate("pass-through after ingest", b["after"], f"{b['after']['cpu_seconds']:.2f} s CPU"),
            rate("ingest", i, f"{i['cpu_seconds_from_ready']:.2f} s CPU of the ingest process; "
                              f"{i['events'] - i['batch_size']} events after its first batch"),
            f"  ratio ingest / mean pass-through ({b['events_per_s']:.0f} events/s): {r['ratio']:.1%}",
            rate("(aiokafka-defaults pass-through", r["plain_passthrough"],
                 f"{r['plain_passthrough']['cpu_seconds']:.2f} s CPU; ingest / it: {r['ratio_to_plain']:.1%})"),
        ]
    lines.append(
        f" median ratio {result['ratio']:.1%} (rounds: {', '.join(f'{x:.1%}' for x in result['ratios'])}; "
        f"{result['rounds_meeting_target']} of {len(result['ratios'])} ≥ {result['target']:.0%}) — "
        f"target ≥ {result['target']:.0%} {'met' if result['target_met'] else 'NOT met'}")
    return "\n".join(lines)


def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader elections of the fresh topics are retried
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--rounds", type=int, default=3, help="rounds in a row; the target is judged on their median")
    parser.add_argument("--profile", action="store_true", help="run ingest under cProfile and print its top functions")
    args = parser.parse_args()
    result = asyncio.run(bench(args.events, args.database, args.profile, args.rounds))
    print(report(result))
    if not args.profile:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
