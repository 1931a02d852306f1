"""Money: decimal strings in, the same decimal strings out."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from softcollect_events import Money, NonNegativeMoney, PositiveMoney, currency_precision, decode, encode, new_event

from .conftest import example_json

CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY", "KRW", "BHD", "KWD", "CLF"]


@st.composite
def money_for_currency(draw) -> tuple[str, str]:
    currency = draw(st.sampled_from(CURRENCIES))
    places = draw(st.integers(min_value=0, max_value=currency_precision(currency)))
    whole = draw(st.integers(min_value=0, max_value=10**15))
    fraction = draw(st.integers(min_value=0, max_value=10**places - 1)) if places else 0
    if whole == 0 and fraction == 0:
        whole = 1
    text = str(whole) + (f".{fraction:0{places}d}" if places else "")
    return currency, text


@given(money_for_currency())
def test_money_survives_encode_decode_exactly(case):
    currency, text = case
    event = example_json("payment.received")
    event["data"].update(amount=text, currency=currency)
    decoded = decode(json.dumps(event))
    assert decoded.data.amount == Decimal(text)
    assert decoded.data.amount.as_tuple() == Decimal(text).as_tuple()  # scale kept: "10.50" stays "10.50"
    record = encode(decoded)
    assert json.loads(record.value)["data"]["amount"] == text
    assert decode(record.value) == decoded


@given(st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1e12"), places=6, allow_nan=False))
def test_money_built_in_code_round_trips(amount):
    # amounts without a currency in the payload carry any scale
    event = new_event(
        "promise.recorded",
        {"promise_id": "P-1", "amount": amount, "promised_date": "2024-06-14"},
        source="collector-app",
        tenantid="acme",
        customerid="C-1001",
        time="2024-06-03T08:00:00Z",
    )
    back = decode(encode(event).value)
    assert back.data.amount == amount
    assert back.data.amount.as_tuple() == amount.as_tuple()


class Holder(BaseModel):
    any_sign: Money | None = None
    non_negative: NonNegativeMoney | None = None
    positive: PositiveMoney | None = None


@pytest.mark.parametrize("value", [12.5, 12, True, [1], {"amount": "1"}])
def test_non_strings_rejected_with_a_clear_message(value):
    with pytest.raises(ValidationError) as info:
        Holder(any_sign=value)
    assert [e["msg"] for e in info.value.errors()] == ['money must be a string holding a decimal, e.g. "12.50"']


def test_signs():
    assert Holder(any_sign="-1.50").any_sign == Decimal("-1.50")
    assert Holder(non_negative="0.00").non_negative == Decimal("0.00")
    with pytest.raises(ValidationError):
        Holder(non_negative="-0.01")
    with pytest.raises(ValidationError):
        Holder(positive="0.00")


def test_decimal_instances_accepted_in_code_but_not_nan():
    assert Holder(positive=Decimal("1.5")).positive == Decimal("1.5")
    with pytest.raises(ValidationError):
        Holder(positive=Decimal("NaN"))


def test_serialises_as_plain_string():
    holder = Holder(any_sign=Decimal("1E+2"), positive="0.10")
    assert holder.model_dump(mode="json") == {"any_sign": "100", "non_negative": None, "positive": "0.10"}
    assert holder.model_dump()["positive"] == Decimal("0.10")


def test_json_schema_says_string():
    schema = Holder.model_json_schema()
    for name in ("any_sign", "non_negative", "positive"):
        variants = schema["properties"][name]["anyOf"]
        assert variants[0]["type"] == "string"
