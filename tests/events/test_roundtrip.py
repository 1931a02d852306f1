"""Every registered type round-trips through the Kafka codec onto the topic
CONTRACT.md section 2 assigns it."""

from __future__ import annotations

import pytest

from softcollect_events import REGISTRY, Topic, decode, encode, example_event, example_events, topic_name

# CONTRACT.md section 2, restated independently of the registry on purpose
CONTRACT_TOPICS: dict[str, str] = {
    **dict.fromkeys(
        ["invoice.issued", "invoice.cancelled", "invoice.delivery_reported", "credit_note.issued"],
        "softcollect.invoices",
    ),
    **dict.fromkeys(["payment.received", "payment.reversed"], "softcollect.payments"),
    **dict.fromkeys(["dispute.raised", "dispute.resolved"], "softcollect.disputes"),
    **dict.fromkeys(["customer.upserted", "hold.placed", "hold.released"], "softcollect.customers"),
    **dict.fromkeys(
        [
            "call.logged",
            "promise.recorded",
            "plan.proposed",
            "plan.accepted",
            "plan.cancelled",
            "settlement.offered",
            "settlement.accepted",
        ],
        "softcollect.activities",
    ),
    "clock.tick": "softcollect.clock",
    "event.rejected": "softcollect.rejected",
    **dict.fromkeys(
        [
            "receivable.opened",
            "receivable.phase_changed",
            "receivable.settled",
            "receivable.handed_over",
            "receivable.balance_changed",
            "payment.applied",
            "payment.unmatched",
            "customer.on_account_changed",
        ],
        "softcollect.receivables",
    ),
    **dict.fromkeys(["customer.locked", "customer.unlocked"], "softcollect.positions"),
    **dict.fromkeys(["aging.snapshot", "portfolio.kpis"], "softcollect.snapshots"),
    **dict.fromkeys(
        [
            "reminder.sent",
            "reminder.suppressed",
            "reminder.failed",
            "statement.sent",
            "task.created",
            "invoice.resubmission_requested",
        ],
        "softcollect.reminders",
    ),
    **dict.fromkeys(
        ["dispute.opened", "dispute.sla_breached", "dispute.closed", "risk.flagged"], "softcollect.dispute-cases"
    ),
    **dict.fromkeys(
        [
            "promise.registered",
            "promise.kept",
            "promise.partially_kept",
            "promise.broken",
            "plan.activated",
            "plan.broken",
            "plan.completed",
            "installment.paid",
            "installment.missed",
            "settlement.agreed",
            "settlement.completed",
            "settlement.lapsed",
        ],
        "softcollect.settlements",
    ),
}

CONTRACT_INBOUND = {
    "customer.upserted",
    "invoice.issued",
    "invoice.cancelled",
    "invoice.delivery_reported",
    "credit_note.issued",
    "payment.received",
    "payment.reversed",
    "dispute.raised",
    "dispute.resolved",
    "hold.placed",
    "hold.released",
    "call.logged",
    "promise.recorded",
    "plan.proposed",
    "plan.accepted",
    "plan.cancelled",
    "settlement.offered",
    "settlement.accepted",
    "clock.tick",
}

ALL_EXAMPLES = [(t, i) for t in sorted(REGISTRY) for i in range(len(example_events(t)))]


def test_registry_covers_exactly_the_contract():
    assert set(REGISTRY) == set(CONTRACT_TOPICS)
    assert {t for t, e in REGISTRY.items() if e.inbound} == CONTRACT_INBOUND


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_topic_matches_contract(type_):
    assert topic_name(REGISTRY[type_].topic) == CONTRACT_TOPICS[type_]


@pytest.mark.parametrize(("type_", "index"), ALL_EXAMPLES)
def test_round_trip(type_, index):
    event = example_event(type_, index)
    record = encode(event)
    assert record.topic == CONTRACT_TOPICS[type_]
    assert record.key == f"{event.tenantid}:{event.customerid}".encode()
    assert record.key == b"acme:" + event.customerid.encode()
    back = decode(record.value)
    assert back == event
    assert isinstance(back.data, REGISTRY[type_].model)
    assert encode(back) == record  # byte-stable, so re-emission is identical


@pytest.mark.parametrize("type_", sorted(CONTRACT_INBOUND))
def test_inbound_types_can_be_written_to_the_tenant_topic(type_):
    record = encode(example_event(type_), topic=Topic.inbound)
    assert record.topic == "softcollect.inbound.acme"
    assert decode(record.value) == example_event(type_)


def test_record_format():
    event = example_event("payment.received")
    record = encode(event, prefix="test.")
    assert record.topic == "test.payments"
    assert dict(record.headers) == {
        "content-type": b"application/cloudevents+json",
        "ce_type": b"payment.received",
        "ce_id": event.id.encode(),
    }
    text = record.value.decode("utf-8")
    assert ": " not in text and ", " not in text.split('"remittance"')[0]  # compact separators
    assert '"amount":"1250.00"' in text
    assert '"value_date":"2024-06-03"' in text
    assert '"time":"2024-06-03T08:00:00Z"' in text
    assert "null" not in text  # absent optionals are omitted


def test_outcomes_cannot_go_to_the_inbound_topic():
    with pytest.raises(ValueError):
        encode(example_event("receivable.opened"), topic=Topic.inbound)
