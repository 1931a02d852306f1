"""Ingest on the real broker and PostgreSQL: every inbound type routed, every bad input
rejected with a precise reason and kept, duplicates dropped, tenants kept apart."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from softcollect_events import INBOUND_TYPES, REGISTRY, Topic, encode, topic_name
from tests.ingest.harness import event
from tests.support import eventually, read_all, wait_for_records

pytestmark = [pytest.mark.broker, pytest.mark.database]


def rejections(records, key: bytes) -> list[dict]:
    return [json.loads(r.value) for r in records if r.key == key]


async def test_every_inbound_type_reaches_its_topic_with_its_key(ingest):
    sent = {}
    for n, type_ in enumerate(sorted(INBOUND_TYPES - {"clock.tick"})):
        ev = event(type_, customer=f"route-{n}")
        sent[ev.id] = ev
        await ingest.send("acme", ev)
    tick = event("clock.tick", tenant="sim", customer="_tenant", business_date="2026-03-02")
    sent[tick.id] = tick
    await ingest.send("sim", tick)
    by_topic: dict[str, list] = {}
    for ev in sent.values():
        by_topic.setdefault(ingest.topic(REGISTRY[ev.type].topic), []).append(ev)
    for topic, events in by_topic.items():
        ids = {e.id for e in events}
        records = await wait_for_records(topic, len(events), where=lambda r, ids=ids: json.loads(r.value)["id"] in ids)
        for r in records:
            body = json.loads(r.value)
            original = sent[body["id"]]
            assert r.key == f"{original.tenantid}:{original.customerid}".encode()
            assert body["type"] == original.type and body["source"] == original.source
            assert body["data"] == json.loads(encode(original).value)["data"]
    assert {e.type for e in sent.values()} == set(INBOUND_TYPES)
    # the counts and the end-to-end latency of these events, on the live process's /metrics
    samples = await asyncio.to_thread(scrape, ingest.worker.url + "/metrics")
    for ev in sent.values():
        assert samples[("softcollect_ingest_accepted_total", (("tenant", ev.tenantid), ("type", ev.type)))] >= 1
    latency_count = samples[("softcollect_ingest_latency_seconds_count", ())]
    assert latency_count >= len(sent)
    assert samples[("softcollect_ingest_latency_seconds_bucket", (("le", "+Inf"),))] == latency_count
    assert 0 < samples[("softcollect_ingest_latency_seconds_sum", ())] < 60 * latency_count


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a /metrics page: (name, sorted labels) -> value."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        families = text_string_to_metric_families(resp.read().decode())
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in families for s in family.samples}


def _payment(**data):
    """A valid payment's JSON with ``data`` fields replaced (possibly by invalid values)."""
    body = json.loads(encode(event("payment.received", customer="bad")).value)
    body["data"].update(data)
    return body


def _with_data(type_: str, **data):
    body = json.loads(encode(event(type_, customer="bad")).value)
    body["data"].update(data)
    return body


def _bytes(obj) -> bytes:
    return json.dumps(obj).encode()


def _without(obj, key):
    obj = dict(obj)
    del obj[key]
    return obj


BAD_INPUTS = [
    ("not JSON", lambda: b"{not json", "$", "not JSON"),
    ("not UTF-8", lambda: b"\xff\xfe\x00", "$", "not UTF-8"),
    ("missing attribute", lambda: _bytes(_without(_payment(), "id")), "$.id", "required attribute is missing"),
    ("extra attribute", lambda: _bytes({**_payment(), "colour": "red"}), "$.colour", "unknown attribute 'colour'"),
    ("wrong type", lambda: _bytes({**_payment(), "time": 12}), "$.time", "RFC 3339"),
    ("float money", lambda: _bytes({**_payment(), "data": {**_payment()["data"], "amount": 12.5}}),
     "$.data.amount", "money must be a string"),
    ("negative amount", lambda: _bytes(_payment(amount="-5.00")), "$.data.amount", "greater than 0"),
    ("zero amount", lambda: _bytes(_payment(amount="0.00")), "$.data.amount", "greater than 0"),
    ("too many decimals", lambda: _bytes(_payment(amount="10.005")), "$.data.amount", "EUR allows at most 2"),
    ("unknown type", lambda: _bytes({**_payment(), "type": "payment.recieved"}), "$.type", "unknown event type"),
    ("installments not summing", lambda: _bytes(_with_data(
        "invoice.issued", amount="100.00", due_date="2026-04-30",
        installments=[{"due_date": "2026-04-30", "amount": "50.00"}, {"due_date": "2026-05-31", "amount": "40.00"}])),
     "$.data.installments", "sum"),
    ("outcome type from a client", lambda: _bytes({**json.loads(encode(event("payment.unmatched", customer="bad"))
                                                                   .value)}), "$.type", "written by softcollect"),
    ("another tenant's event", lambda: _bytes(json.loads(encode(event("payment.received", tenant="beta",
                                                                         customer="bad")).value)),
     "$.tenantid", "does not match the channel's tenant 'acme'"),
    ("tick on a live clock", lambda: _bytes(json.loads(encode(event("clock.tick", customer="_tenant",
                                                                     business_date="2026-03-02")).value)),
     "$.type", "live clock"),
    ("oversized", lambda: _bytes({**_payment(), "subject": "x" * 300_000}), "$", "at most 262144 bytes"),
]


@pytest.mark.parametrize(("name", "make", "path", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
async def test_bad_input_is_rejected_with_a_precise_reason_and_kept(ingest, name, make, path, message):
    key = f"acme:bad-{name.replace(' ', '-')}".encode()
    raw = make()
    encoded = base64.b64encode(raw).decode()
    await ingest.send_raw("acme", key, raw)
    [record] = await wait_for_records(ingest.topic(Topic.rejected), 1,
                                      where=lambda r: json.loads(r.value)["data"]["original"] == encoded)
    body = json.loads(record.value)
    assert body["type"] == "event.rejected" and body["tenantid"] == "acme"
    reasons = body["data"]["reasons"]
    assert any(r["path"] == path and message in r["message"] for r in reasons), reasons
    assert body["data"]["topic"] == ingest.inbound("acme") and body["data"]["offset"] >= 0
    # Keyed by the sender's customer when it could be read, else tenant-wide.
    assert record.key in (b"acme:bad", b"acme:_tenant")
    rows = [r for r in ingest.rejected_rows("acme") if r["rejection_id"] == body["id"]]
    assert len(rows) == 1 and bytes(rows[0]["original"]) == raw and rows[0]["reasons"] == reasons


async def test_a_tick_that_goes_back_in_time_is_rejected(ingest):
    forward = event("clock.tick", tenant="sim", customer="_tenant", business_date="2026-04-10")
    back = event("clock.tick", tenant="sim", customer="_tenant", business_date="2026-04-09")
    await ingest.send("sim", forward, back)
    [record] = await wait_for_records(ingest.topic(Topic.rejected), 1,
                                      where=lambda r: json.loads(r.value).get("subject") == back.id)
    [reason] = json.loads(record.value)["data"]["reasons"]
    assert reason["path"] == "$.data.business_date"
    assert "already 2026-04-10" in reason["message"]
    ticks = await read_all(ingest.topic(Topic.clock))
    assert back.id not in {json.loads(r.value)["id"] for r in ticks}


async def test_an_event_sent_twice_is_forwarded_once(ingest):
    ev = event("invoice.issued", customer="dup")
    later = event("invoice.cancelled", customer="dup")
    await ingest.send("acme", ev, ev)
    await ingest.send("acme", ev, later)  # same key: processed after every copy
    await wait_for_records(ingest.topic(Topic.invoices), 1, where=lambda r: json.loads(r.value)["id"] == later.id)
    copies = [r for r in await read_all(ingest.topic(Topic.invoices)) if json.loads(r.value)["id"] == ev.id]
    assert len(copies) == 1


async def test_a_tenant_that_is_not_configured_is_rejected_and_a_new_one_needs_no_restart(ingest):
    await ingest.add_tenant_topic("ghost")
    ghost = event("invoice.issued", tenant="ghost", customer="g1")
    await ingest.send("ghost", ghost)
    [record] = await wait_for_records(ingest.topic(Topic.rejected), 1,
                                      where=lambda r: json.loads(r.value).get("subject") == ghost.id)
    body = json.loads(record.value)
    assert body["tenantid"] == "ghost"
    assert body["data"]["reasons"][0] == {"path": "$.tenantid",
                                          "message": "tenant 'ghost' is not configured in softcollect"}
    # The client's configuration arrives; the same worker accepts the tenant's events from then on
    # (within the directory's reload interval: the client resends until accepted).
    (ingest.config_dir / "tenants" / "ghost.yaml").write_text("name: Ghost Ltd\n")
    again = event("invoice.issued", tenant="ghost", customer="g1")

    async def forwarded() -> bool:
        await ingest.send("ghost", again)
        records = await read_all(ingest.topic(Topic.invoices))
        return any(json.loads(r.value)["id"] == again.id for r in records)

    await eventually(forwarded, timeout=60, interval=1)


async def test_topics_of_tenants_are_kept_apart(ingest):
    # beta's event on beta's topic is fine; the same event on acme's topic was refused above.
    ev = event("payment.received", tenant="beta", customer="b1")
    await ingest.send("beta", ev)
    [r] = await wait_for_records(ingest.topic(Topic.payments), 1, where=lambda r: json.loads(r.value)["id"] == ev.id)
    assert r.key == b"beta:b1"
    assert topic_name(Topic.inbound, ingest.prefix, tenantid="beta") == ingest.inbound("beta")
