"""The aging service on the real broker and PostgreSQL: invoices, payments and ticks in
(as ingest would forward them), the right outcomes out, no duplicate after a redelivery
or a restart."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter

import pytest

from softcollect_events import TENANT_CUSTOMERID, Topic, encode, new_event, topic_name
from tests.support import WorkerProcess, free_port, produce, read_all, unique, wait_for_records

pytestmark = [pytest.mark.broker, pytest.mark.database]

TENANT = "acme"


class Aging:
    def __init__(self, tmp, pg_url: str) -> None:
        self.prefix = unique("age") + "."
        config = tmp / "config"
        (config / "tenants").mkdir(parents=True)
        (config / "tenants" / f"{TENANT}.yaml").write_text("name: Acme\nsimulated: true\n")
        self.worker = WorkerProcess("softcollect_aging", {
            "SOFTCOLLECT_TOPIC_PREFIX": self.prefix, "SOFTCOLLECT_DATABASE_URL": pg_url,
            "SOFTCOLLECT_CONFIG_DIR": str(config), "SOFTCOLLECT_WEB_PORT": str(free_port()),
            "SOFTCOLLECT_DATA_DIR": str(tmp / "data"), "SOFTCOLLECT_DB_SCHEMA": unique("aging_"),
        }, tmp / "aging.log")

    def topic(self, t: Topic) -> str:
        return topic_name(t, self.prefix)

    async def send(self, type_: str, customer: str, data: dict, day: str, event_id: str | None = None):
        ev = new_event(type_, data, source="erp/acme", tenantid=TENANT, customerid=customer,
                       time=dt.datetime.fromisoformat(f"{day}T09:00:00+00:00"), id=event_id or str(uuid.uuid4()))
        rec = encode(ev, self.prefix)
        await produce(rec.topic, [(rec.key, rec.value)])
        return ev

    async def tick(self, day: str):
        return await self.send("clock.tick", TENANT_CUSTOMERID, {"business_date": day}, day)

    async def outcomes(self, topic: Topic, where=lambda b: True) -> list[dict]:
        return [b for b in (json.loads(r.value) for r in await read_all(self.topic(topic))) if where(b)]

    async def wait(self, topic: Topic, n: int, where) -> list[dict]:
        records = await wait_for_records(self.topic(topic), n, where=lambda r: where(json.loads(r.value)))
        return [json.loads(r.value) for r in records]


@pytest.fixture(scope="module")
def aging(tmp_path_factory, pg_url, kafka_bootstrap):
    a = Aging(tmp_path_factory.mktemp("aging"), pg_url)
    a.worker.start()
    yield a
    a.worker.stop()


def caused_by(ev):
    return lambda b: b.get("causationid") == ev.id


async def test_invoices_payments_and_ticks_produce_the_ledger_outcomes(aging):
    await aging.tick("2026-03-02")
    inv1 = await aging.send("invoice.issued", "C1", {
        "invoice_id": "INV-1", "number": "2026/1", "issue_date": "2026-03-01", "due_date": "2026-03-31",
        "currency": "EUR", "amount": "1000.00"}, "2026-03-02")
    await aging.send("invoice.issued", "C1", {"invoice_id": "INV-2", "number": "2026/2", "issue_date": "2026-03-01",
                                              "due_date": "2026-04-15", "currency": "EUR", "amount": "500.00"},
                     "2026-03-02")
    [opened] = await aging.wait(Topic.receivables, 1, lambda b: b["type"] == "receivable.opened"
                                and b["causationid"] == inv1.id)
    assert opened["data"]["open_amount"] == "1000.00" and opened["subject"] == "INV-1"
    assert opened["tenantid"] == TENANT and opened["customerid"] == "C1"

    pay = await aging.send("payment.received", "C1", {"payment_id": "P-1", "amount": "1000.00", "currency": "EUR",
                                                      "value_date": "2026-03-20", "invoice_refs": ["2026/1"]},
                           "2026-03-20")
    outs = await aging.wait(Topic.receivables, 2, lambda b: b["causationid"] == pay.id
                            and b["type"] in ("payment.applied", "receivable.settled"))
    applied = next(o for o in outs if o["type"] == "payment.applied")
    assert applied["data"]["method"] == "reference"
    assert applied["data"]["allocations"] == [{"invoice_id": "INV-1", "amount": "1000.00"}]
    settled = next(o for o in outs if o["type"] == "receivable.settled")
    assert settled["data"]["invoice_id"] == "INV-1"

    # 35 days past due in one jump: one phase change, straight to handed_over, and the handover.
    tick = await aging.tick("2026-05-20")
    outs = await aging.wait(Topic.receivables, 2, lambda b: b["causationid"] == tick.id
                            and b["type"] in ("receivable.phase_changed", "receivable.handed_over"))
    changed = next(o for o in outs if o["type"] == "receivable.phase_changed")
    assert changed["data"]["invoice_id"] == "INV-2" and changed["data"]["to"] == "handed_over"
    assert changed["data"]["days_past_due"] == 35
    [snap] = await aging.wait(Topic.snapshots, 1, lambda b: b["causationid"] == tick.id
                              and b["type"] == "aging.snapshot")
    assert snap["customerid"] == "C1" and snap["data"]["as_of"] == "2026-05-20"
    [kpis] = await aging.wait(Topic.snapshots, 1, lambda b: b["causationid"] == tick.id
                              and b["type"] == "portfolio.kpis")
    assert kpis["customerid"] == TENANT_CUSTOMERID and kpis["data"]["currency"] == "EUR"


async def test_a_redelivered_payment_is_applied_once(aging):
    await aging.send("invoice.issued", "C2", {"invoice_id": "INV-3", "number": "2026/3", "issue_date": "2026-05-01",
                                              "due_date": "2026-06-30", "currency": "EUR", "amount": "300.00"},
                     "2026-05-20")
    event_id = str(uuid.uuid4())
    data = {"payment_id": "P-2", "amount": "100.00", "currency": "EUR", "value_date": "2026-05-20",
            "invoice_refs": ["INV-3"]}
    pay = await aging.send("payment.received", "C2", data, "2026-05-20", event_id=event_id)
    await aging.send("payment.received", "C2", data, "2026-05-20", event_id=event_id)
    later = await aging.send("payment.received", "C2", {**data, "payment_id": "P-3"}, "2026-05-20")
    await aging.wait(Topic.receivables, 1, lambda b: b["causationid"] == later.id and b["type"] == "payment.applied")
    applied = await aging.outcomes(Topic.receivables, lambda b: b["causationid"] == pay.id)
    assert [b["type"] for b in applied] == ["payment.applied", "receivable.balance_changed"]
    assert applied[1]["data"] == {"invoice_id": "INV-3", "currency": "EUR", "open_amount": "200.00",
                                  "cause": "payment.received"}


async def test_a_restarted_worker_does_not_repeat_outcomes(aging):
    before = Counter(b["id"] for b in await aging.outcomes(Topic.receivables))
    aging.worker.stop()
    aging.worker.start()
    ev = await aging.send("invoice.issued", "C3", {
        "invoice_id": "INV-4", "number": "2026/4", "issue_date": "2026-05-01", "due_date": "2026-06-30",
        "currency": "EUR", "amount": "80.00"}, "2026-05-20")
    await aging.wait(Topic.receivables, 1, caused_by(ev))
    after = Counter(b["id"] for b in await aging.outcomes(Topic.receivables))
    assert all(n == 1 for n in after.values()), [i for i, n in after.items() if n > 1]
    assert set(before) <= set(after)


async def test_open_amounts_and_money_on_account_are_streamed_with_their_cause(aging):
    pay = await aging.send("payment.received", "C4", {"payment_id": "P-4", "amount": "500.00", "currency": "EUR",
                                                      "value_date": "2026-05-20", "invoice_refs": ["INV-5"]},
                           "2026-05-20")
    outs = await aging.wait(Topic.receivables, 2, caused_by(pay))
    assert [o["type"] for o in outs] == ["payment.unmatched", "customer.on_account_changed"]
    assert outs[1]["data"] == {"currency": "EUR", "unapplied_cash": "500.00", "credits": "0.00",
                               "cause": "payment.received"}
    assert "subject" not in outs[1] and outs[1]["customerid"] == "C4"

    inv = await aging.send("invoice.issued", "C4", {
        "invoice_id": "INV-5", "number": "2026/5", "issue_date": "2026-05-01", "due_date": "2026-06-30",
        "currency": "EUR", "amount": "800.00"}, "2026-05-20")
    outs = await aging.wait(Topic.receivables, 4, caused_by(inv))
    assert [o["type"] for o in outs] == ["receivable.opened", "payment.applied", "receivable.balance_changed",
                                         "customer.on_account_changed"]
    assert outs[2]["subject"] == "INV-5"
    assert outs[2]["data"] == {"invoice_id": "INV-5", "currency": "EUR", "open_amount": "300.00",
                               "cause": "invoice.issued"}
    assert outs[3]["data"] == {"currency": "EUR", "unapplied_cash": "0.00", "credits": "0.00",
                               "cause": "invoice.issued"}
    assert len({o["id"] for o in outs}) == 4
