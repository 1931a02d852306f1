"""`receivable.balance_changed` and `customer.on_account_changed`: the types that let a
consumer follow every item's open amount and the debtor's money on account from
softcollect.receivables alone (added to the contract, additively)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import softcollect_events as se
from softcollect_events import REGISTRY, Topic, decode, encode, example_event, new_event

BALANCE = {"invoice_id": "INV-1", "currency": "EUR", "open_amount": "250.00", "cause": "credit_note.issued"}
ON_ACCOUNT = {"currency": "EUR", "unapplied_cash": "480.00", "credits": "0.00", "cause": "payment.received"}


@pytest.mark.parametrize("type_", ["receivable.balance_changed", "customer.on_account_changed"])
def test_written_by_aging_on_receivables_as_outcomes(type_):
    entry = REGISTRY[type_]
    assert entry.topic is Topic.receivables and not entry.inbound and entry.schemaversion == 1
    assert encode(example_event(type_)).topic == "softcollect.receivables"


def test_field_names_and_requiredness():
    assert list(se.ReceivableBalanceChanged.model_fields) == [
        "invoice_id", "installment", "currency", "open_amount", "cause"]
    assert list(se.CustomerOnAccountChanged.model_fields) == ["currency", "unapplied_cash", "credits", "cause"]
    required = {n for n, f in se.ReceivableBalanceChanged.model_fields.items() if f.is_required()}
    assert required == {"invoice_id", "currency", "open_amount", "cause"}
    required = {n for n, f in se.CustomerOnAccountChanged.model_fields.items() if f.is_required()}
    assert required == {"currency", "unapplied_cash", "credits", "cause"}


def test_zero_is_a_valid_balance_and_installments_are_named():
    data = se.ReceivableBalanceChanged.model_validate({**BALANCE, "open_amount": "0.00", "installment": 2})
    assert data.open_amount == 0 and data.installment == 2
    se.CustomerOnAccountChanged.model_validate({**ON_ACCOUNT, "unapplied_cash": "0.00"})


@pytest.mark.parametrize(
    ("model", "base", "change", "loc"),
    [
        (se.ReceivableBalanceChanged, BALANCE, {"open_amount": "-1.00"}, ("open_amount",)),
        (se.ReceivableBalanceChanged, BALANCE, {"open_amount": "1.001"}, ("open_amount",)),
        (se.ReceivableBalanceChanged, BALANCE, {"open_amount": 250.0}, ("open_amount",)),
        (se.ReceivableBalanceChanged, BALANCE, {"cause": "Payment received"}, ("cause",)),
        (se.ReceivableBalanceChanged, BALANCE, {"cause": "payment"}, ("cause",)),
        (se.ReceivableBalanceChanged, BALANCE, {"installment": 0}, ("installment",)),
        (se.CustomerOnAccountChanged, ON_ACCOUNT, {"credits": "-0.01"}, ("credits",)),
        (se.CustomerOnAccountChanged, ON_ACCOUNT, {"unapplied_cash": "1.5", "currency": "JPY"}, ("unapplied_cash",)),
        (se.CustomerOnAccountChanged, ON_ACCOUNT, {"cause": ""}, ("cause",)),
        (se.CustomerOnAccountChanged, ON_ACCOUNT, {"unapplied": "1.00"}, ("unapplied",)),
    ],
)
def test_refused(model, base, change, loc):
    with pytest.raises(ValidationError) as info:
        model.model_validate({**base, **change})
    assert loc in [e["loc"] for e in info.value.errors()]


def test_cause_takes_any_dotted_type_including_future_ones():
    for cause in ("payment.received", "settlement.completed", "credit_note.issued", "ledger.adjustment_posted"):
        se.CustomerOnAccountChanged.model_validate({**ON_ACCOUNT, "cause": cause})


def test_round_trip_as_an_outcome_of_its_cause():
    cause = example_event("credit_note.issued")
    event = new_event("receivable.balance_changed", BALANCE, source="softcollect/aging", time=cause.time,
                      subject="INV-1", caused_by=cause, id=se.deterministic_id("t", cause.id, "0"))
    assert event.causationid == cause.id and event.data.cause == cause.type
    record = encode(event)
    assert record.topic == "softcollect.receivables" and b'"open_amount":"250.00"' in record.value
    assert decode(record.value) == event
