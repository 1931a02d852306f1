"""Bad input: decode() reports every problem, each at its exact JSON path."""

from __future__ import annotations

import dataclasses
import json

import pytest

from softcollect_events import (
    REGISTRY,
    DecodeError,
    decode,
    decode_object,
    register_upcaster,
    unregister_upcaster,
)

from .conftest import example_json, reasons_of

MONEY_MESSAGE = 'money must be a string holding a decimal, e.g. "12.50"'


def invoice(**data) -> dict:
    event = example_json("invoice.issued")
    event["data"].update(data)
    return event


def test_not_utf8():
    reasons = reasons_of(b'{"id": "\xff\xfe"}')
    assert list(reasons) == ["$"]
    assert "UTF-8" in reasons["$"]


def test_not_json():
    reasons = reasons_of(b'{"id": ')
    assert list(reasons) == ["$"]
    assert reasons["$"].startswith("not JSON")


@pytest.mark.parametrize("raw", [b"[]", b'[{"id": "x"}]', b'"event"', b"42", b"null"])
def test_not_an_object(raw):
    reasons = reasons_of(raw)
    assert list(reasons) == ["$"]
    assert "expected a JSON object" in reasons["$"]


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}'])
def test_non_json_constants(raw):
    assert list(reasons_of(raw)) == ["$"]


def test_duplicate_keys_are_refused():
    reasons = reasons_of(b'{"id": "a", "id": "b"}')
    assert "duplicate key 'id'" in reasons["$"]


def test_missing_id():
    event = example_json("invoice.issued")
    del event["id"]
    assert reasons_of(event) == {"$.id": "required attribute is missing"}


def test_every_missing_attribute_is_listed():
    reasons = reasons_of({"specversion": "1.0"})
    assert set(reasons) == {"$.id", "$.source", "$.type", "$.time", "$.tenantid", "$.customerid", "$.data"}


def test_extra_top_level_attribute():
    event = example_json("invoice.issued")
    event["tenant_id"] = "acme"
    reasons = reasons_of(event)
    assert list(reasons) == ["$.tenant_id"]
    assert "unknown attribute 'tenant_id'" in reasons["$.tenant_id"]


def test_extra_attribute_with_an_odd_name_gets_a_bracket_path():
    event = example_json("invoice.issued")
    event["ce-type"] = "x"
    assert list(reasons_of(event)) == ["$['ce-type']"]


@pytest.mark.parametrize("bad_time", [1717401600, None, ["2024-06-03T08:00:00Z"], "3 June 2024", "2024-06-03"])
def test_wrong_type_or_format_of_time(bad_time):
    event = example_json("invoice.issued")
    event["time"] = bad_time
    assert list(reasons_of(event)) == ["$.time"]


@pytest.mark.parametrize("naive", ["2024-06-03T08:00:00", "2024-06-03 08:00:00", "2024-06-03T08:00:00.250"])
def test_naive_time(naive):
    event = example_json("invoice.issued")
    event["time"] = naive
    reasons = reasons_of(event)
    assert list(reasons) == ["$.time"]
    assert "offset" in reasons["$.time"]


@pytest.mark.parametrize("number", [12.5, 1250, 1250.0])
def test_json_number_money(number):
    assert reasons_of(invoice(amount=number)) == {"$.data.amount": MONEY_MESSAGE}


@pytest.mark.parametrize("text", ["12,50", "1.250,00", "1e3", "+12.50", " 12.50", "12.", ".5", "0012.50", "NaN", ""])
def test_malformed_money_string(text):
    assert list(reasons_of(invoice(amount=text))) == ["$.data.amount"]


@pytest.mark.parametrize("amount", ["-1250.00", "0", "0.00"])
def test_amount_must_be_positive(amount):
    reasons = reasons_of(invoice(amount=amount))
    assert list(reasons) == ["$.data.amount"]
    assert "greater than 0" in reasons["$.data.amount"]


def test_three_decimals_for_eur():
    reasons = reasons_of(invoice(amount="1250.005"))
    assert list(reasons) == ["$.data.amount"]
    assert "amount" in reasons["$.data.amount"] and "EUR" in reasons["$.data.amount"]


def test_jpy_whole_amount_is_fine():
    event = decode(json.dumps(invoice(currency="JPY", amount="125000")))
    assert str(event.data.amount) == "125000"


@pytest.mark.parametrize("amount", ["125000.0", "125000.50"])
def test_jpy_decimals_rejected(amount):
    reasons = reasons_of(invoice(currency="JPY", amount=amount))
    assert list(reasons) == ["$.data.amount"]
    assert "JPY allows at most 0" in reasons["$.data.amount"]


def test_precision_checked_inside_installments():
    reasons = reasons_of(
        invoice(
            amount="3000.00",
            installments=[
                {"due_date": "2024-05-31", "amount": "1500.00"},
                {"due_date": "2024-06-30", "amount": "1500.001"},
            ],
        )
    )
    assert "$.data.installments[1].amount" in reasons
    assert "installments[1].amount" in reasons["$.data.installments[1].amount"]


@pytest.mark.parametrize("currency", ["EURO", "eur", "ZZZ", 978])
def test_bad_currency(currency):
    assert list(reasons_of(invoice(currency=currency))) == ["$.data.currency"]


def test_unknown_type():
    event = example_json("invoice.issued")
    event["type"] = "invoice.isued"
    reasons = reasons_of(event)
    assert list(reasons) == ["$.type"]
    assert "unknown event type 'invoice.isued'" in reasons["$.type"]
    assert "invoice.issued" in reasons["$.type"]  # the suggestion


def test_unknown_type_still_reports_envelope_problems():
    event = example_json("invoice.issued")
    event["type"] = "invoice.paid"
    del event["source"]
    assert set(reasons_of(event)) == {"$.type", "$.source"}


def test_installments_not_summing():
    reasons = reasons_of(
        invoice(
            amount="3000.00",
            installments=[
                {"due_date": "2024-05-31", "amount": "1500.00"},
                {"due_date": "2024-06-30", "amount": "1499.99"},
            ],
        )
    )
    assert list(reasons) == ["$.data.installments"]
    assert "2999.99" in reasons["$.data.installments"] and "3000.00" in reasons["$.data.installments"]


def test_unknown_enum_value():
    event = example_json("invoice.delivery_reported")
    event["data"]["status"] = "lost"
    reasons = reasons_of(event)
    assert list(reasons) == ["$.data.status"]
    assert "'delivered'" in reasons["$.data.status"]


def test_extra_field_in_data():
    event = invoice(amout="1250.00")
    reasons = reasons_of(event)
    assert list(reasons) == ["$.data.amout"]
    assert "unknown field 'amout'" in reasons["$.data.amout"]


def test_extra_field_in_nested_data():
    event = invoice(installments=[{"due_date": "2024-05-31", "amount": "1250.00", "note": "x"}])
    assert list(reasons_of(event)) == ["$.data.installments[0].note"]


def test_data_not_an_object():
    event = example_json("invoice.issued")
    event["data"] = ["INV-1"]
    assert list(reasons_of(event)) == ["$.data"]


def test_schemaversion_too_new():
    event = example_json("invoice.issued")
    event["schemaversion"] = 2
    reasons = reasons_of(event)
    assert list(reasons) == ["$.schemaversion"]
    assert "newer" in reasons["$.schemaversion"]


@pytest.mark.parametrize("version", ["1", 1.0, True, 0, -1])
def test_schemaversion_must_be_a_positive_integer(version):
    event = example_json("invoice.issued")
    event["schemaversion"] = version
    assert "$.schemaversion" in reasons_of(event)


@pytest.mark.parametrize(
    ("field", "value"), [("tenantid", "acme:eu"), ("tenantid", ""), ("customerid", "C 1001"), ("customerid", "x" * 65)]
)
def test_partition_ids_restricted(field, value):
    event = example_json("invoice.issued")
    event[field] = value
    assert list(reasons_of(event)) == [f"$.{field}"]


def test_outcome_needs_causationid():
    event = example_json("receivable.opened")
    del event["causationid"]
    reasons = reasons_of(event)
    assert list(reasons) == ["$.causationid"]
    assert "outcome" in reasons["$.causationid"]


def test_outcome_refuses_contact_data_without_echoing_it():
    event = example_json("reminder.failed")
    event["data"]["error"] = "550 5.1.1 <mario.rossi@debtor.example>: user unknown"
    reasons = reasons_of(event)
    assert list(reasons) == ["$.data.error"]
    assert "e-mail address" in reasons["$.data.error"]
    assert "mario" not in reasons["$.data.error"]
    event["data"]["error"] = "SMS gateway refused +39 347 123 4567"
    assert "phone number" in reasons_of(event)["$.data.error"]


def test_every_problem_at_once():
    event = example_json("invoice.issued")
    del event["id"]
    event["time"] = "2024-06-03T08:00:00"
    event["colour"] = "red"
    event["data"]["amount"] = 12.5
    event["data"]["due_date"] = "31/05/2024"
    event["data"]["amout"] = "1"
    with pytest.raises(DecodeError) as info:
        decode(json.dumps(event))
    paths = [r.path for r in info.value.reasons]
    assert sorted(paths) == sorted(["$.id", "$.time", "$.colour", "$.data.amount", "$.data.due_date", "$.data.amout"])
    text = str(info.value)
    assert text.startswith("invalid event (6 problems):")
    for path in paths:
        assert f"\n  {path}: " in text
    assert info.value.parsed == event


def test_decode_object_takes_parsed_json():
    event = example_json("clock.tick")
    assert decode_object(event).data.business_date.isoformat() == "2024-06-03"
    with pytest.raises(DecodeError):
        decode_object([event])


@pytest.fixture
def invoice_cancelled_v2(monkeypatch):
    """Pretend invoice.cancelled's data moved to version 2 (`reason` was
    called `why` in version 1) and register the upcaster for it."""
    v2 = dataclasses.replace(REGISTRY["invoice.cancelled"], schemaversion=2)
    monkeypatch.setitem(REGISTRY, "invoice.cancelled", v2)

    def rename_why(data: dict) -> dict:
        data["reason"] = data.pop("why")
        return data

    register_upcaster("invoice.cancelled", 1, rename_why)
    yield
    unregister_upcaster("invoice.cancelled", 1)


def test_upcaster_applied_for_old_schemaversion(invoice_cancelled_v2):
    event = example_json("invoice.cancelled")
    event["schemaversion"] = 1
    event["data"] = {"invoice_id": "INV-2024-000123", "why": "issued twice"}
    original = json.dumps(event)
    decoded = decode(original)
    assert decoded.schemaversion == 2
    assert decoded.data.reason == "issued twice"
    assert json.loads(original)["data"] == {"invoice_id": "INV-2024-000123", "why": "issued twice"}


def test_absent_schemaversion_means_1_and_is_upcast(invoice_cancelled_v2):
    event = example_json("invoice.cancelled")
    del event["schemaversion"]
    event["data"] = {"invoice_id": "INV-2024-000123", "why": "issued twice"}
    assert decode(json.dumps(event)).data.reason == "issued twice"


def test_upcast_data_is_validated(invoice_cancelled_v2):
    event = example_json("invoice.cancelled")
    event["schemaversion"] = 1
    event["data"] = {"invoice_id": "INV-2024-000123", "why": "x", "extra": 1}
    assert list(reasons_of(event)) == ["$.data.extra"]


def test_failing_upcaster_is_a_reason(invoice_cancelled_v2):
    event = example_json("invoice.cancelled")
    event["schemaversion"] = 1
    event["data"] = {"invoice_id": "INV-2024-000123"}  # no "why": the upcaster raises KeyError
    reasons = reasons_of(event)
    assert list(reasons) == ["$.schemaversion"]
    assert "upcasting invoice.cancelled from schemaversion 1 failed" in reasons["$.schemaversion"]


def test_missing_upcaster_is_a_reason(monkeypatch):
    monkeypatch.setitem(REGISTRY, "hold.released", dataclasses.replace(REGISTRY["hold.released"], schemaversion=2))
    event = example_json("hold.released")
    event["schemaversion"] = 1
    reasons = reasons_of(event)
    assert list(reasons) == ["$.schemaversion"]
    assert "no upcaster" in reasons["$.schemaversion"]


def test_upcaster_registry_guards():
    with pytest.raises(ValueError):
        register_upcaster("invoice.paid", 1, lambda d: d)
    register_upcaster("clock.tick", 1, lambda d: d)
    try:
        with pytest.raises(ValueError):
            register_upcaster("clock.tick", 1, lambda d: d)
    finally:
        unregister_upcaster("clock.tick", 1)


def test_a_reason_missing_its_path_is_a_reason_not_a_crash():
    event = example_json("event.rejected")
    del event["data"]["reasons"][0]["path"]
    event["data"]["reasons"][1]["severity"] = "high"
    reasons = reasons_of(event)
    assert reasons["$.data.reasons[0].path"] == "required field is missing"
    assert reasons["$.data.reasons[1].severity"] == "unknown field 'severity'"
