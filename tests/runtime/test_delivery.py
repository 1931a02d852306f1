"""The runtime's delivery guarantees, proved on the real broker and PostgreSQL with a
test-only service (probe_service) running as a real faust worker process."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest
import sqlalchemy as sa

from softcollect_events import encode, new_event
from softcollect_runtime.db import sync_url
from softcollect_runtime.dlq import parse_headers
from tests.support import WorkerProcess, eventually, free_port, produce, read_all, unique, wait_for_records

pytestmark = [pytest.mark.broker, pytest.mark.database]

TENANT = "acme"
WHEN = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def payment(prefix: str, customer: str, payment_id: str, amount: str = "100.00", method: str | None = None,
            event_id: str | None = None):
    data = {"payment_id": payment_id, "amount": amount, "currency": "EUR", "value_date": "2026-03-02"}
    if method:
        data["method"] = method
    event = new_event("payment.received", data, source="erp/acme", tenantid=TENANT, customerid=customer,
                      time=WHEN, id=event_id)
    return event, encode(event, prefix=prefix)


class Probe:
    def __init__(self, tmp_path_factory, pg_url: str, crash_on: str | None = None) -> None:
        self.prefix = unique("probe") + "."
        self.name = unique("probe_")
        self.pg_url = pg_url
        env = {
            "PROBE_NAME": self.name, "SOFTCOLLECT_TOPIC_PREFIX": self.prefix,
            "SOFTCOLLECT_DATABASE_URL": pg_url, "SOFTCOLLECT_WEB_PORT": str(free_port()),
            "SOFTCOLLECT_MAX_ATTEMPTS": "3", "SOFTCOLLECT_RETRY_BACKOFF_SECONDS": "0.05",
            "SOFTCOLLECT_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        }
        if crash_on:
            env["PROBE_CRASH_ON"] = crash_on
            env["PROBE_CRASH_MARKER"] = str(tmp_path_factory.mktemp("crash") / "marker")
        self.worker = WorkerProcess("tests.runtime.probe_service", env, tmp_path_factory.mktemp("log") / "probe.log")
        self.engine = sa.create_engine(sync_url(pg_url))

    @property
    def payments(self) -> str:
        return f"{self.prefix}payments"

    @property
    def outputs(self) -> str:
        return f"{self.prefix}receivables"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}{self.name}.dlq"

    def effects(self, payment_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text(f'SELECT count(*) FROM "{self.name}".probe_effects '
                                       "WHERE payment_id = :p"), {"p": payment_id})

    def outbox_rows(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text(f'SELECT count(*) FROM "{self.name}".outbox'))

    async def send(self, *records) -> None:
        await produce(self.payments, [(r.key, r.value) for r in records])

    async def outputs_caused_by(self, event_id: str) -> list:
        return [r for r in await read_all(self.outputs) if json.loads(r.value)["causationid"] == event_id]

    async def wait_output(self, event_id: str, timeout: float = 60.0):
        return await wait_for_records(self.outputs, 1, timeout,
                                      where=lambda r: json.loads(r.value)["causationid"] == event_id)

    def metric(self, name: str, **labels: str) -> float:
        with urllib.request.urlopen(self.worker.url + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture(scope="module")
def probe(tmp_path_factory, pg_url, kafka_bootstrap):
    p = Probe(tmp_path_factory, pg_url)
    p.worker.start()
    yield p
    p.worker.stop()
    p.engine.dispose()


async def test_effect_and_outbox_row_commit_in_one_transaction(probe):
    event, rec = payment(probe.prefix, "c1", "P-1", "250.00")
    await probe.send(rec)
    [out] = await probe.wait_output(event.id)
    body = json.loads(out.value)
    assert body["type"] == "payment.unmatched"
    assert body["data"]["payment_id"] == "P-1" and body["data"]["amount"] == "250.00"
    assert body["correlationid"] == event.id
    assert out.key == b"acme:c1"
    assert probe.effects("P-1") == 1
    await eventually(lambda: probe.outbox_rows() == 0)  # the relay deletes what it published


async def test_same_event_delivered_twice_has_one_effect(probe):
    event, rec = payment(probe.prefix, "c2", "P-2")
    await probe.send(rec, rec)
    later, later_rec = payment(probe.prefix, "c2", "P-2b")
    await probe.send(rec, later_rec)  # same key: processed after the three copies
    await probe.wait_output(later.id)
    assert probe.effects("P-2") == 1
    assert len(await probe.outputs_caused_by(event.id)) == 1
    assert probe.metric("softcollect_events_total", type="payment.received", outcome="duplicate") >= 2


async def test_undecodable_message_goes_to_dlq_and_the_stream_goes_on(probe):
    await produce(probe.payments, [(b"acme:c3", b"\xff not json at all")])
    later, later_rec = payment(probe.prefix, "c3", "P-3")
    await probe.send(later_rec)
    [letter] = await wait_for_records(probe.dlq, 1, where=lambda r: r.key == b"acme:c3")
    info = parse_headers(letter.headers)
    assert letter.value == b"\xff not json at all"
    assert info["error-kind"] == "undecodable"
    assert info["original-topic"] == probe.payments
    assert int(info["original-offset"]) >= 0
    reasons = json.loads(info["reasons"])
    assert reasons and reasons[0]["path"] == "$"
    await probe.wait_output(later.id)
    assert probe.effects("P-3") == 1


async def test_failing_handler_is_dead_lettered_and_its_effects_rolled_back(probe):
    failing, failing_rec = payment(probe.prefix, "c4", "P-4", method="fail")
    later, later_rec = payment(probe.prefix, "c4", "P-4b")
    await probe.send(failing_rec, later_rec)
    [letter] = await wait_for_records(probe.dlq, 1, where=lambda r: r.key == b"acme:c4")
    info = parse_headers(letter.headers)
    assert info["error-kind"] == "handler_error"
    assert "probe refused payment P-4" in info["error"]
    assert info["event-type"] == "payment.received"
    assert letter.value == failing_rec.value
    await probe.wait_output(later.id)
    # Rolled back: no effect, and the event it emitted before failing was never published.
    assert probe.effects("P-4") == 0
    assert await probe.outputs_caused_by(failing.id) == []


async def test_transient_failures_are_retried_then_dead_lettered(probe):
    event, rec = payment(probe.prefix, "c5", "P-5", method="transient")
    later, later_rec = payment(probe.prefix, "c5", "P-5b")
    await probe.send(rec, later_rec)
    [letter] = await wait_for_records(probe.dlq, 1, where=lambda r: r.key == b"acme:c5")
    info = parse_headers(letter.headers)
    assert info["error-kind"] == "retries_exhausted"
    assert info["attempts"] == "3"
    await probe.wait_output(later.id)
    assert probe.effects("P-5") == 0
    assert probe.metric("softcollect_retries_total", type="payment.received") >= 2


async def test_worker_killed_between_db_commit_and_offset_commit_reprocesses_without_second_effect(
        tmp_path_factory, pg_url, kafka_bootstrap):
    crash = Probe(tmp_path_factory, pg_url, crash_on="P-6")
    crash.worker.start()
    try:
        event, rec = payment(crash.prefix, "c6", "P-6", "75.50")
        await crash.send(rec)
        assert crash.worker.wait_exit(60) == 70
        assert crash.effects("P-6") == 1  # the effect was committed before the process died
        crash.worker.start()  # the offset was not committed: the event comes again
        later, later_rec = payment(crash.prefix, "c6", "P-6b")
        await crash.send(later_rec)
        await crash.wait_output(later.id)
        await crash.wait_output(event.id)  # the outbox row committed before the crash is published after it
        assert crash.effects("P-6") == 1
        assert len(await crash.outputs_caused_by(event.id)) == 1
        assert crash.metric("softcollect_events_total", type="payment.received", outcome="duplicate") == 1
    finally:
        crash.worker.stop()
        crash.engine.dispose()

