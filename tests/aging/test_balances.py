"""`receivable.balance_changed` and `customer.on_account_changed`: every change of an
item's open amount and of the debtor's money on account is reported, with the type
of the event that caused it, through the service's own `apply` (a transition, the
lock, then the balances); the tick reports neither."""

from __future__ import annotations

import datetime as dt
from datetime import date

from softcollect_aging.domain import Ledger, Outcome, balance_changes, balances, evaluate_lock, tick
from softcollect_aging.handlers import apply, emit
from softcollect_events import CloudEvent, SettlementCompleted, example_event
from softcollect_runtime.tenants import AgingPolicy
from tests.aging.helpers import (
    POLICY,
    TODAY,
    D,
    cancellation,
    check_conservation,
    credit_note,
    customer,
    day,
    hold,
    invoice,
    of_type,
    payment,
    reversal,
    types,
    validate,
)

BALANCE = "receivable.balance_changed"
ON_ACCOUNT = "customer.on_account_changed"


class Service:
    """One debtor's ledger driven the way aging's handlers drive it."""

    def __init__(self, policy: AgingPolicy = POLICY) -> None:
        self.ledger = Ledger("acme", "c1")
        self.policy = policy

    def send(self, type_: str, data, on: date = TODAY) -> list[Outcome]:
        out = apply(self.ledger, type_, data, on, self.policy)
        check_conservation(self.ledger)
        return validate(out)

    def tick(self, on: date) -> list[Outcome]:  # as the tick handler runs it
        out = tick(self.ledger, on, self.policy) + evaluate_lock(self.ledger, on, self.policy)
        check_conservation(self.ledger)
        return validate(out)


def with_invoices(*invoices, policy: AgingPolicy = POLICY) -> Service:
    service = Service(policy)
    for inv in invoices:
        service.send("invoice.issued", inv)
    return service


def on_account(cash: str, credits: str, cause: str, currency: str = "EUR") -> dict:
    return {"currency": currency, "unapplied_cash": cash, "credits": credits, "cause": cause}


def settlement_completed(*invoice_ids: str) -> SettlementCompleted:
    return SettlementCompleted.model_validate({"settlement_id": "S1", "invoice_ids": list(invoice_ids),
                                               "currency": "EUR", "paid": "600.00", "written_off": "400.00"})


# --- credit notes --------------------------------------------------------------


def test_a_partial_credit_note_reports_the_new_open_amount_and_nothing_on_account():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    out = service.send("credit_note.issued", credit_note("CN1", "250.00", "INV-1"))
    assert types(out) == [BALANCE]
    assert of_type(out, BALANCE) == [{"invoice_id": "INV-1", "currency": "EUR", "open_amount": "750.00",
                                      "cause": "credit_note.issued"}]
    assert out[0].subject == "INV-1"


def test_a_credit_note_without_invoice_sits_on_account_as_credits():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    out = service.send("credit_note.issued", credit_note("CN1", "200.00"))
    assert types(out) == [ON_ACCOUNT]
    assert of_type(out, ON_ACCOUNT) == [on_account("0.00", "200.00", "credit_note.issued")]
    assert out[0].subject is None


def test_a_credit_note_larger_than_its_invoice_settles_it_and_leaves_the_rest_as_credits():
    service = with_invoices(invoice("INV-1", "100.00", day(10)))
    out = service.send("credit_note.issued", credit_note("CN1", "130.00", "INV-1"))
    assert types(out) == ["receivable.settled", "receivable.phase_changed", BALANCE, ON_ACCOUNT]
    assert of_type(out, BALANCE)[0]["open_amount"] == "0.00"
    assert of_type(out, ON_ACCOUNT) == [on_account("0.00", "30.00", "credit_note.issued")]


def test_a_credit_note_spread_over_installments_reports_each_in_ledger_order():
    service = with_invoices(invoice("INV-1", "300.00", day(40), installments=[(day(10), "100.00"),
                                                                            (day(40), "200.00")]))
    out = service.send("credit_note.issued", credit_note("CN1", "150.00", "INV-1"))
    assert [(d.get("installment"), d["open_amount"]) for d in of_type(out, BALANCE)] == [(1, "0.00"), (2, "150.00")]
    assert types(out)[-2:] == [BALANCE, BALANCE]


# --- payments ------------------------------------------------------------------


def test_an_overpayment_brings_the_item_to_zero_and_the_excess_to_unapplied_cash():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    out = service.send("payment.received", payment("P1", "1200.00", refs=["INV-1"]))
    assert types(out) == ["payment.applied", "receivable.settled", "receivable.phase_changed", BALANCE, ON_ACCOUNT]
    assert of_type(out, BALANCE) == [{"invoice_id": "INV-1", "currency": "EUR", "open_amount": "0.00",
                                      "cause": "payment.received"}]
    assert of_type(out, ON_ACCOUNT) == [on_account("200.00", "0.00", "payment.received")]


def test_a_partial_payment_reports_the_rest_still_open():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    out = service.send("payment.received", payment("P1", "400.00", refs=["INV-1"]))
    assert types(out) == ["payment.applied", BALANCE]
    assert of_type(out, BALANCE)[0]["open_amount"] == "600.00"


def test_an_unmatched_payment_is_unapplied_cash():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    out = service.send("payment.received", payment("P1", "480.00"))
    assert types(out) == ["payment.unmatched", ON_ACCOUNT]
    assert of_type(out, ON_ACCOUNT) == [on_account("480.00", "0.00", "payment.received")]


def test_a_payment_before_its_invoice_is_on_account_until_the_invoice_takes_it():
    service = Service()
    out = service.send("payment.received", payment("P1", "400.00", refs=["INV-1"]))
    assert types(out) == ["payment.unmatched", ON_ACCOUNT]
    assert of_type(out, ON_ACCOUNT) == [on_account("400.00", "0.00", "payment.received")]
    out = service.send("invoice.issued", invoice("INV-1", "1000.00", day(10)))
    assert types(out) == ["receivable.opened", "payment.applied", BALANCE, ON_ACCOUNT]
    assert of_type(out, "receivable.opened")[0]["open_amount"] == "1000.00"
    assert of_type(out, BALANCE) == [{"invoice_id": "INV-1", "currency": "EUR", "open_amount": "600.00",
                                      "cause": "invoice.issued"}]
    assert of_type(out, ON_ACCOUNT) == [on_account("0.00", "0.00", "invoice.issued")]


def test_a_credit_note_before_its_invoice_is_held_as_credits_then_applied():
    service = Service()
    out = service.send("credit_note.issued", credit_note("CN1", "100.00", "INV-1"))
    assert of_type(out, ON_ACCOUNT) == [on_account("0.00", "100.00", "credit_note.issued")]
    out = service.send("invoice.issued", invoice("INV-1", "100.00", day(10)))
    assert types(out) == ["receivable.opened", "receivable.settled", "receivable.phase_changed", BALANCE, ON_ACCOUNT]
    assert of_type(out, BALANCE)[0]["open_amount"] == "0.00"
    assert of_type(out, ON_ACCOUNT) == [on_account("0.00", "0.00", "invoice.issued")]


def test_an_invoice_with_nothing_waiting_reports_only_its_opening():
    service = Service()
    out = service.send("invoice.issued", invoice("INV-1", "1000.00", day(10)))
    assert types(out) == ["receivable.opened"]


def test_a_tolerance_write_off_brings_the_item_to_zero_without_money_on_account():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    out = service.send("payment.received", payment("P1", "999.40", refs=["INV-1"]))
    assert of_type(out, "payment.applied")[0]["written_off"] == "0.60"
    assert types(out)[-1] == BALANCE and ON_ACCOUNT not in types(out)
    assert of_type(out, BALANCE)[0]["open_amount"] == "0.00"


# --- reversals, cancellations, write-offs ----------------------------------------


def test_a_partial_reversal_reopens_what_the_payment_paid():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    service.send("payment.received", payment("P1", "400.00", refs=["INV-1"]))
    out = service.send("payment.reversed", reversal("P1"))
    assert types(out) == [BALANCE]
    assert of_type(out, BALANCE) == [{"invoice_id": "INV-1", "currency": "EUR", "open_amount": "1000.00",
                                      "cause": "payment.reversed"}]


def test_reversing_a_settling_overpayment_reopens_the_item_and_takes_the_cash_back():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    service.send("payment.received", payment("P1", "1200.00", refs=["INV-1"]))
    out = service.send("payment.reversed", reversal("P1"))
    assert types(out) == ["receivable.phase_changed", BALANCE, ON_ACCOUNT]
    assert of_type(out, BALANCE)[0]["open_amount"] == "1000.00"
    assert of_type(out, ON_ACCOUNT) == [on_account("0.00", "0.00", "payment.reversed")]


def test_reversing_a_tolerance_payment_reopens_the_written_off_part_too():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    service.send("payment.received", payment("P1", "999.40", refs=["INV-1"]))
    out = service.send("payment.reversed", reversal("P1"))
    assert of_type(out, BALANCE)[0]["open_amount"] == "1000.00"


def test_a_cancellation_closes_the_item_and_returns_what_was_paid_to_the_account():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    service.send("payment.received", payment("P1", "300.00", refs=["INV-1"]))
    service.send("credit_note.issued", credit_note("CN1", "100.00", "INV-1"))
    out = service.send("invoice.cancelled", cancellation("INV-1"))
    assert types(out) == ["receivable.phase_changed", BALANCE, ON_ACCOUNT]
    assert of_type(out, BALANCE) == [{"invoice_id": "INV-1", "currency": "EUR", "open_amount": "0.00",
                                      "cause": "invoice.cancelled"}]
    assert of_type(out, ON_ACCOUNT) == [on_account("300.00", "100.00", "invoice.cancelled")]


def test_cancelling_a_settled_invoice_moves_only_money_on_account():
    service = with_invoices(invoice("INV-1", "100.00", day(10)))
    service.send("payment.received", payment("P1", "100.00", refs=["INV-1"]))
    out = service.send("invoice.cancelled", cancellation("INV-1"))
    assert BALANCE not in types(out)
    assert of_type(out, ON_ACCOUNT) == [on_account("100.00", "0.00", "invoice.cancelled")]


def test_a_cancellation_before_the_invoice_reports_nothing_when_it_arrives():
    service = Service()
    assert service.send("invoice.cancelled", cancellation("INV-1")) == []
    assert service.send("invoice.issued", invoice("INV-1", "100.00", day(10))) == []


def test_a_completed_settlement_writes_off_the_rest():
    service = with_invoices(invoice("INV-1", "1000.00", day(-40)))
    service.send("payment.received", payment("P1", "600.00", refs=["INV-1"]))
    out = service.send("settlement.completed", settlement_completed("INV-1"))
    assert of_type(out, BALANCE) == [{"invoice_id": "INV-1", "currency": "EUR", "open_amount": "0.00",
                                      "cause": "settlement.completed"}]
    assert ON_ACCOUNT not in types(out)


# --- nothing moved ------------------------------------------------------------


def test_events_that_move_no_money_report_no_balance():
    service = with_invoices(invoice("INV-1", "1000.00", day(10)))
    service.send("payment.received", payment("P1", "50.00"))
    assert service.send("hold.placed", hold("H1", "INV-1")) == []
    assert service.send("customer.upserted", customer("5000.00")) == []
    assert service.send("payment.received", payment("P1", "50.00")) == []  # a repeat changes nothing


def test_a_tick_reports_neither_balances_nor_money_on_account():
    service = with_invoices(invoice("INV-1", "1000.00", day(2)), invoice("INV-2", "500.00", day(-2)))
    service.send("payment.received", payment("P1", "70.00"))
    before = balances(service.ledger)
    seen = []
    for n in (1, 5, 20, 60):
        seen += service.tick(day(n))
        assert balance_changes(before, service.ledger, "clock.tick") == []  # nothing to report, either
    assert {BALANCE, ON_ACCOUNT}.isdisjoint(types(seen))
    assert "receivable.phase_changed" in types(seen) and "receivable.handed_over" in types(seen)


def test_currencies_are_reported_each_on_their_own():
    service = Service()
    out = service.send("credit_note.issued", credit_note("CN1", "10.00", currency="USD"))
    assert of_type(out, ON_ACCOUNT) == [on_account("0.00", "10.00", "credit_note.issued", "USD")]
    out = service.send("payment.received", payment("P1", "5", currency="JPY"))
    assert of_type(out, ON_ACCOUNT) == [on_account("5", "0", "payment.received", "JPY")]


def test_several_currencies_moved_at_once_come_sorted():
    ledger = Ledger("acme", "c1")
    before = balances(ledger)
    for currency, amount in (("USD", "1.00"), ("CHF", "2.00"), ("EUR", "3.00")):
        ledger.add_source("payment", f"P-{currency}", currency, D(amount))
    assert [o.data["currency"] for o in balance_changes(before, ledger, "payment.received")] == ["CHF", "EUR", "USD"]


# --- ids -------------------------------------------------------------------------


class Collect:
    def __init__(self) -> None:
        self.events: list[CloudEvent] = []

    def emit(self, event: CloudEvent) -> None:
        self.events.append(event)


def emitted(outcomes: list[Outcome], cause: CloudEvent) -> list[CloudEvent]:
    uow = Collect()
    emit(uow, outcomes, cause, "acme", "c1", TODAY)
    return uow.events


def test_ids_differ_per_outcome_and_a_replay_reemits_the_same():
    cause = example_event("credit_note.issued")
    runs = []
    for _ in range(2):  # a replay after a crash: same ledger state, same cause
        service = with_invoices(invoice("INV-1", "300.00", day(40), installments=[(day(10), "100.00"),
                                                                                (day(40), "200.00")]))
        service.send("payment.received", payment("P1", "20.00"))
        runs.append(emitted(service.send("credit_note.issued", credit_note("CN1", "150.00", "INV-1")), cause))
    first, again = runs
    assert [e.type for e in first].count(BALANCE) == 2
    assert [e.id for e in first] == [e.id for e in again]
    assert len({e.id for e in first}) == len(first)
    assert all(e.causationid == cause.id and e.time == dt.datetime(2026, 3, 2, tzinfo=dt.UTC) for e in first)
    assert [e.subject for e in first if e.type == BALANCE] == ["INV-1", "INV-1"]


def test_the_balance_outcomes_come_last_so_the_others_keep_their_ids():
    service = with_invoices(invoice("INV-1", "1000.00", day(-40)))
    service.send("customer.upserted", customer("100.00"))
    out = service.send("payment.received", payment("P1", "1200.00", refs=["INV-1"]))
    assert types(out) == ["payment.applied", "receivable.settled", "receivable.phase_changed", "customer.unlocked",
                          BALANCE, ON_ACCOUNT]
