"""Builders, topics, and the self-documentation every model must carry."""

from __future__ import annotations

import dataclasses
import json
import typing
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

import softcollect_events as se
from softcollect_events import (
    REGISTRY,
    TENANT_CUSTOMERID,
    CloudEvent,
    InvoiceIssued,
    Topic,
    all_topics,
    decode,
    deterministic_id,
    dlq_topic,
    encode,
    example_event,
    new_event,
    redact_contact_data,
    topic_name,
)

PUBLIC_NAMES = [
    "Money",
    "Currency",
    "CloudEvent",
    "REGISTRY",
    "EventType",
    "Topic",
    "topic_name",
    "dlq_topic",
    "all_topics",
    "KafkaRecord",
    "encode",
    "decode",
    "DecodeError",
    "Reason",
    "register_upcaster",
    "new_event",
    "deterministic_id",
    "Phase",
    "DeliveryStatus",
    "DeliveryChannel",
    "DisputeReason",
    "DisputeOutcome",
    "RaisedBy",
    "HoldScope",
    "CallOutcome",
    "ApplicationMethod",
    "TaskKind",
    "ReminderChannel",
]


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_api(name):
    assert hasattr(se, name) and name in se.__all__


def test_event_type_entries():
    entry = REGISTRY["payment.received"]
    assert (entry.type, entry.model, entry.schemaversion, entry.topic, entry.inbound) == (
        "payment.received",
        se.PaymentReceived,
        1,
        Topic.payments,
        True,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.schemaversion = 2


def test_topic_names():
    assert topic_name(Topic.invoices) == "softcollect.invoices"
    assert topic_name("dispute-cases", prefix="x.") == "x.dispute-cases"
    assert topic_name(Topic.dispute_cases) == "softcollect.dispute-cases"
    assert topic_name("dispute_cases") == "softcollect.dispute-cases"  # member name also accepted
    with pytest.raises(ValueError):
        topic_name("invoice")
    assert topic_name(Topic.inbound, tenantid="acme") == "softcollect.inbound.acme"
    with pytest.raises(ValueError):
        topic_name(Topic.inbound)
    with pytest.raises(ValueError):
        topic_name(Topic.inbound, tenantid="a/b")
    assert dlq_topic("aging") == "softcollect.aging.dlq"
    assert dlq_topic("aging", prefix="t.") == "t.aging.dlq"
    topics = all_topics("softcollect.", ["aging", "reminders"])
    assert "softcollect.receivables" in topics and "softcollect.aging.dlq" in topics
    assert not any(t.startswith("softcollect.inbound") for t in topics)
    assert len(topics) == len(Topic) - 1 + 2
    assert "softcollect.inbound.acme" in all_topics(tenantids=["acme"])


def test_new_event_chains_causation_and_correlation():
    tick = example_event("clock.tick")
    assert tick.correlationid is None
    opened = new_event(
        "receivable.opened",
        se.ReceivableOpened(
            invoice_id="INV-1",
            due_date=date(2024, 6, 30),
            currency="EUR",
            amount=Decimal("100.00"),
            open_amount=Decimal("100.00"),
        ),
        source="softcollect/aging",
        customerid="C-1001",
        time=tick.time,
        caused_by=tick,
    )
    assert opened.causationid == tick.id
    assert opened.correlationid == tick.id  # a chain starts at the first cause
    assert opened.tenantid == tick.tenantid
    assert uuid.UUID(opened.id).version == 4
    phase = new_event(
        "receivable.phase_changed",
        {
            "invoice_id": "INV-1",
            "from": "upcoming",
            "to": "expiring",
            "days_past_due": -15,
            "currency": "EUR",
            "open_amount": "100.00",
        },
        source="softcollect/aging",
        time=tick.time,
        caused_by=opened,
        id=deterministic_id("aging", opened.id, "phase"),
    )
    assert phase.causationid == opened.id
    assert phase.correlationid == tick.id  # carried unchanged
    assert phase.customerid == "C-1001"
    assert phase.id == deterministic_id("aging", opened.id, "phase")
    assert phase.data.from_ == se.Phase.upcoming
    assert json.loads(encode(phase).value)["data"]["from"] == "upcoming"


def test_new_event_guards():
    tick = example_event("clock.tick")
    with pytest.raises(ValueError):
        new_event("invoice.paid", {}, source="s", tenantid="a", customerid="c", time=tick.time)
    with pytest.raises(ValueError):
        new_event(
            "clock.tick",
            {"business_date": "2024-06-04"},
            source="s",
            tenantid="other",
            customerid="c",
            time=tick.time,
            caused_by=tick,
        )
    with pytest.raises(ValidationError):  # outcome without a cause
        new_event(
            "customer.unlocked",
            {"reason": "paid", "currency": "EUR", "overdue_amount": "0.00", "max_days_past_due": 0},
            source="softcollect/aging",
            tenantid="acme",
            customerid="C-1",
            time=tick.time,
        )
    with pytest.raises(ValidationError):  # data model of another type
        new_event(
            "payment.received",
            InvoiceIssued.model_validate(se.example_data("invoice.issued")[0]),
            source="s",
            tenantid="a",
            customerid="c",
            time=tick.time,
        )


def test_deterministic_id():
    assert deterministic_id("a", "b") == deterministic_id("a", "b")
    assert deterministic_id("a", "bc") != deterministic_id("ab", "c")
    assert uuid.UUID(deterministic_id("x")).version == 5
    with pytest.raises(ValueError):
        deterministic_id()


def test_time_keeps_its_offset_and_is_rfc3339():
    rome = timezone(timedelta(hours=2))
    event = new_event(
        "clock.tick",
        {"business_date": "2024-06-04"},
        source="ingest",
        tenantid="acme",
        customerid=TENANT_CUSTOMERID,
        time=datetime(2024, 6, 4, 0, 0, tzinfo=rome),
    )
    assert json.loads(encode(event).value)["time"] == "2024-06-04T00:00:00+02:00"
    with pytest.raises(ValidationError):
        new_event(
            "clock.tick",
            {"business_date": "2024-06-04"},
            source="ingest",
            tenantid="acme",
            customerid=TENANT_CUSTOMERID,
            time=datetime(2024, 6, 4),
        )


def test_parametrised_envelope_types_data():
    event = CloudEvent[InvoiceIssued].model_validate(json.loads(se.to_json(example_event("invoice.issued"))))
    assert isinstance(event.data, InvoiceIssued)
    assert event == decode(se.to_json(event))
    assert event.key == "acme:C-1001"


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}

    def walk(model: type[BaseModel]) -> None:
        if model.__name__ in seen:
            return
        seen[model.__name__] = model
        for field in model.model_fields.values():
            for arg in _flatten(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    walk(arg)

    for entry in REGISTRY.values():
        walk(entry.model)
    walk(CloudEvent)
    return list(seen.values())


def _flatten(annotation):
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _flatten(arg)


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_models_are_self_documenting(model):
    assert (model.__doc__ or "").strip(), f"{model.__name__} needs a docstring"
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} needs a description"


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_every_type_has_valid_examples(type_):
    model = REGISTRY[type_].model
    examples = model.model_config["json_schema_extra"]["examples"]
    assert examples
    for example in examples:
        model.model_validate(example)
    assert model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("type_", sorted(t for t, e in REGISTRY.items() if not e.inbound))
def test_outcomes_have_no_contact_fields(type_):
    def names(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties":
                    yield from value
                yield from names(value)
        elif isinstance(node, list):
            for value in node:
                yield from names(value)

    fields = set(names(REGISTRY[type_].model.model_json_schema()))
    assert not {f for f in fields if "mail" in f or "phone" in f}


def test_redaction():
    text = "550 <mario.rossi@debtor.example> rejected; SMS to +39 347 123 4567 failed; invoice 2024/123"
    clean = redact_contact_data(text)
    assert "mario" not in clean and "347" not in clean
    assert "invoice 2024/123" in clean
    assert se.find_contact_data(clean) is None
    assert se.find_contact_data("INV-2024-000123 due 2024-06-30, 1250.00 EUR") is None


def test_message_ids_may_look_like_addresses():
    event = example_event("reminder.sent")
    assert "@" in event.data.message_id


@pytest.mark.parametrize(
    ("type_", "change", "path"),
    [
        ("invoice.issued", {"due_date": "2024-01-01"}, ("due_date",)),
        ("hold.placed", {"scope": "customer"}, ("invoice_id",)),
        ("hold.placed", {"invoice_id": None}, ("invoice_id",)),
        ("dispute.resolved", {"outcome": "rejected"}, ("credited_amount",)),
        ("customer.upserted", {"currency": None}, ("currency",)),
        ("aging.snapshot", {"open_amount": "4000.00"}, ("buckets",)),
        ("promise.kept", {"paid": "10.00"}, ("paid",)),
        ("promise.broken", {"paid": "10.00"}, ("paid",)),
        ("settlement.agreed", {"amount": "1300.00"}, ("amount",)),
        ("receivable.phase_changed", {"to": "expiring"}, ("to",)),
        ("event.rejected", {"offset": None}, ("offset",)),
        ("risk.flagged", {"score": 10}, ("score",)),
    ],
)
def test_cross_field_rules(type_, change, path):
    data = {**se.example_data(type_)[0], **change}
    with pytest.raises(ValidationError) as info:
        REGISTRY[type_].model.model_validate(data)
    assert path in [e["loc"] for e in info.value.errors()]


def test_rejected_via_http_needs_no_kafka_coordinates():
    se.EventRejected(original="e30=", reasons=[se.Reason(path="$", message="x")], received_via="http")


def test_reason_is_a_frozen_value():
    reason = se.Reason("$.data.amount", "must be greater than 0")
    assert reason == se.Reason(path="$.data.amount", message="must be greater than 0")
    assert str(reason) == "$.data.amount: must be greater than 0"
    assert len({reason, se.Reason("$.data.amount", "must be greater than 0")}) == 1
    with pytest.raises(ValidationError):
        reason.path = "$"
