"""Test helpers for the real broker and database: produce, wait for N records with a
deadline (never sleep-and-hope), run a service as a real worker process."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

REPO = Path(__file__).resolve().parents[1]


def bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def produce(topic: str, records: list[tuple[bytes | None, bytes]], headers=None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(), enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value=value, key=key, headers=headers or [])
        await producer.flush()
    finally:
        await producer.stop()


async def wait_for_records(topic: str, count: int, timeout: float = 60.0,
                           where: Callable[[object], bool] | None = None):
    """Read ``topic`` from the start until ``count`` matching records arrived or the deadline passed.

    Returns the matching records (aiokafka ConsumerRecord). Fails with what it saw on timeout.
    """
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap(), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    found = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{topic}: {len(found)} of {count} records within {timeout:.0f} s: "
                                     f"{[r.value[:200] for r in found]}")
            batch = await consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            for records in batch.values():
                found.extend(r for r in records if where is None or where(r))
        return found
    finally:
        await consumer.stop()


async def read_all(topic: str, timeout: float = 10.0) -> list:
    """Everything on ``topic`` now: reads up to the end offsets taken at the start."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap(), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            raise AssertionError(f"topic {topic} does not exist")
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out = []
        deadline = time.monotonic() + timeout
        while True:
            behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not behind:
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: could not read to the end within {timeout} s")
            batch = await consumer.getmany(*behind, timeout_ms=500)
            for records in batch.values():
                out.extend(r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)])
    finally:
        await consumer.stop()


@dataclass
class WorkerProcess:
    """A service run as a real faust worker in a child process."""

    module: str
    env: dict
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['SOFTCOLLECT_WEB_PORT']}"

    def start(self, ready_timeout: float = 90.0) -> WorkerProcess:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", self.module], cwd=REPO, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **self.env})
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.module} exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.module} not ready in {ready_timeout} s:\n{self.tail()}")

    def wait_exit(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def eventually(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.1):
    """Poll ``check`` (sync or async) until it returns truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")
