"""decode's quick path (`softcollect_events.quick`): it takes every well-formed current event,
gives exactly what the full path gives, and declines whatever the full path would refuse.

The full path is reached here by decoding a `str` (the quick path reads bytes only)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from softcollect_events import REGISTRY, CloudEvent, DecodeError, decode, encode, example_events, quick
from softcollect_events.money import DecimalString, Money

from .conftest import example_json

EXAMPLES = [(ev.type, i, ev) for type_ in sorted(REGISTRY) for i, ev in enumerate(example_events(type_))]


def full_path(raw: bytes) -> CloudEvent:
    return decode(raw.decode("utf-8"))


def assert_same(quick_event: CloudEvent, full_event: CloudEvent) -> None:
    assert type(quick_event) is CloudEvent
    assert quick_event == full_event
    assert quick_event.model_fields_set == full_event.model_fields_set
    assert type(quick_event.data) is type(full_event.data)
    assert quick_event.data.model_fields_set == full_event.data.model_fields_set
    # amounts keep their scale ("1250.00" is not "1250.0"): compare the wire form too
    assert encode(quick_event).value == encode(full_event).value


@pytest.mark.parametrize(("type_", "index", "event"), EXAMPLES, ids=[f"{t}-{i}" for t, i, _ in EXAMPLES])
def test_every_example_is_taken_and_equals_the_full_path(type_, index, event):
    raw = encode(event).value
    taken = quick.accept(raw)
    assert taken is not None, f"the quick path declined a valid {type_}"
    assert_same(taken, full_path(raw))
    assert decode(raw) == event


def test_pretty_printed_and_reordered_json_is_taken():
    obj = example_json("invoice.issued", 1)  # with installments
    raw = json.dumps(dict(reversed(list(obj.items()))), indent=2, separators=(",", " : ")).encode()
    taken = quick.accept(raw)
    assert taken is not None
    assert_same(taken, full_path(raw))


def test_escaped_non_ascii_text_is_taken_and_equal():
    obj = example_json("customer.upserted")
    obj["data"]["name"] = "Müller & Söhne — “Ωmega” 😀"
    raw = json.dumps(obj, ensure_ascii=True).encode()
    assert b"\\u" in raw
    taken = quick.accept(raw)
    assert taken is not None
    assert_same(taken, full_path(raw))


def with_duplicate(raw: bytes, member: bytes, duplicate: bytes) -> bytes:
    assert raw.count(member) == 1
    return raw.replace(member, member + b"," + duplicate)


@pytest.mark.parametrize(("member", "duplicate"), [
    (b'"tenantid":"acme"', b'"tenantid":"other"'),
    (b'"amount":"1250.00"', b'"amount":"99.00"'),
    (b'"amount":"1250.00"', b'"amount" :"99.00"'),
    (b'"amount":"1250.00"', b'"amount"\n\t:"1250.00"'),  # the same value twice is still ambiguous JSON
    (b'"invoice_id":"INV-2024-000123"', b'"invoice_id":"INV-2024-000123"'),
])
def test_duplicate_keys_are_declined_and_refused(member, duplicate):
    raw = with_duplicate(encode(example_events("invoice.issued")[0]).value, member, duplicate)
    assert quick.accept(raw) is None
    with pytest.raises(DecodeError, match="duplicate key"):
        decode(raw)


def test_duplicate_key_inside_installments_is_declined():
    raw = encode(example_events("invoice.issued")[1]).value
    raw = raw.replace(b'{"due_date":"2024-05-31",', b'{"due_date":"2024-05-31","due_date":"2024-05-31",', 1)
    assert quick.accept(raw) is None
    with pytest.raises(DecodeError, match="duplicate key"):
        decode(raw)


def test_a_payload_field_named_like_the_envelope_type_does_not_mislead():
    obj = example_json("invoice.issued")
    raw = json.dumps({"data": obj.pop("data"), **obj}, separators=(",", ":")).encode()  # data first
    assert quick.accept(raw) is not None
    spoof = raw.replace(b'"data":{', b'"data":{"type":"payment.received",', 1)
    assert spoof != raw
    assert quick.accept(spoof) is None
    with pytest.raises(DecodeError):
        decode(spoof)


@pytest.mark.parametrize("kind", [Money, DecimalString])
@pytest.mark.parametrize("text", ["-0.00", "-0"])
def test_minus_zero_is_left_to_the_full_path_which_writes_it_zero(kind, text):
    adapter = TypeAdapter(kind)
    with pytest.raises(ValidationError):
        adapter.validate_json(json.dumps(text))  # the quick path's rule declines it
    written = adapter.validate_python(text)
    assert written == 0 and not written.is_signed()
    assert adapter.validate_json('"-0.50"') == adapter.validate_python("-0.50")


VALID = encode(example_events("invoice.issued")[0]).value


@pytest.mark.parametrize("raw", [
    b"\xef\xbb\xbf" + VALID,  # a BOM
    VALID.replace(b'"2024/123"', b'"\\ud8002024/123"'),  # a lone surrogate
    VALID.replace(b'"specversion":"1.0"', b'"specversion":NaN'),
    VALID + b"x",
    VALID.replace(b'"schemaversion":1', b'"schemaversion":true'),
    VALID.replace(b'"schemaversion":1', b'"schemaversion":1.0'),
    VALID.replace(b'"amount":"1250.00"', b'"amount":1250.00'),
])
def test_odd_json_is_declined(raw):
    assert raw != VALID
    assert quick.accept(raw) is None
    with pytest.raises(DecodeError):
        decode(raw)


# Generated input: a valid event with one value replaced by an arbitrary JSON value, or a key
# repeated. Whatever the quick path takes, the full path must take too, and equal.
JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", " ", "EUR", "JPY", "eur", "XXX", "IT", "it", "2024-02-29", "2023-02-29", "2024-6-1",
                     "2024-06-03T08:00:00Z", "2024-06-03t08:00:00z", "2024-06-03T08:00:00.1234567+02:00",
                     "2024-06-03T08:00:00", "2024-06-03T24:00:00Z", "0.00", "-0.00", "12.5", "12.505", "1e3",
                     "0012.50", "100", "ACME-1", " ACME", "a\u0000b", "x" * 129, "invoice.issued", "1.0",
                     "application/json", "acme", "C-1", "C:1", "a\u00a0", "\u2028"]),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["amount", "due_date", "x", "type"]), inner,
                                                 max_size=3)), max_leaves=6)
TYPES = sorted(t for t in REGISTRY if REGISTRY[t].inbound) + ["event.rejected", "receivable.opened"]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_paths(item, (*prefix, index)))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TYPES), st.data())
def test_whatever_the_quick_path_takes_the_full_path_takes_equally(type_, data):
    obj = example_json(type_, data.draw(st.integers(min_value=0, max_value=len(example_events(type_)) - 1)))
    path = data.draw(st.sampled_from(_paths(obj)))
    *parents, last = path
    holder = obj
    for part in parents:
        holder = holder[part]
    if data.draw(st.booleans()):
        holder[last] = data.draw(JSON_VALUES)
    elif isinstance(holder, dict):
        del holder[last]
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=data.draw(st.booleans())).encode()
    taken = quick.accept(raw)
    if taken is not None:
        assert_same(taken, full_path(raw))
