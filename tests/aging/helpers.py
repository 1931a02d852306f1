"""Builders and a small harness for the aging domain tests: events as the
contract's models, every outcome validated against its registry model, the
conservation law checked after every transition."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from softcollect_aging.domain import Ledger, Outcome, evaluate_lock, tick
from softcollect_events import (
    REGISTRY,
    CreditNoteIssued,
    CustomerUpserted,
    HoldPlaced,
    HoldReleased,
    InvoiceCancelled,
    InvoiceIssued,
    PaymentReceived,
    PaymentReversed,
)
from softcollect_runtime.tenants import AgingPolicy

POLICY = AgingPolicy()
TODAY = date(2026, 3, 2)


def D(text: str) -> Decimal:  # noqa: N802 - reads like a literal
    return Decimal(text)


def day(offset: int, base: date = TODAY) -> date:
    return base + timedelta(days=offset)


def invoice(invoice_id: str, amount: str, due: date, *, number: str | None = None, issue: date | None = None,
            currency: str = "EUR", installments: list[tuple[date, str]] | None = None) -> InvoiceIssued:
    data = {
        "invoice_id": invoice_id,
        "number": number or f"N-{invoice_id}",
        "issue_date": (issue or min(due, TODAY - timedelta(days=30))).isoformat(),
        "due_date": due.isoformat(),
        "currency": currency,
        "amount": amount,
    }
    if installments:
        data["installments"] = [{"due_date": d.isoformat(), "amount": a} for d, a in installments]
    return InvoiceIssued.model_validate(data)


def payment(payment_id: str, amount: str, *, refs: list[str] | None = None, remittance: str | None = None,
            currency: str = "EUR", value_date: date = TODAY) -> PaymentReceived:
    data = {"payment_id": payment_id, "amount": amount, "currency": currency, "value_date": value_date.isoformat()}
    if refs is not None:
        data["invoice_refs"] = refs
    if remittance is not None:
        data["remittance"] = remittance
    return PaymentReceived.model_validate(data)


def credit_note(credit_note_id: str, amount: str, invoice_id: str | None = None, *,
                currency: str = "EUR") -> CreditNoteIssued:
    data = {"credit_note_id": credit_note_id, "amount": amount, "currency": currency,
            "issue_date": TODAY.isoformat()}
    if invoice_id is not None:
        data["invoice_id"] = invoice_id
    return CreditNoteIssued.model_validate(data)


def cancellation(invoice_id: str) -> InvoiceCancelled:
    return InvoiceCancelled.model_validate({"invoice_id": invoice_id})


def reversal(payment_id: str) -> PaymentReversed:
    return PaymentReversed.model_validate({"payment_id": payment_id})


def hold(hold_id: str, invoice_id: str | None = None, until: date | None = None) -> HoldPlaced:
    data = {"hold_id": hold_id, "scope": "invoice" if invoice_id else "customer", "reason": "agreed with AM"}
    if invoice_id:
        data["invoice_id"] = invoice_id
    if until:
        data["until"] = until.isoformat()
    return HoldPlaced.model_validate(data)


def hold_released(hold_id: str) -> HoldReleased:
    return HoldReleased.model_validate({"hold_id": hold_id})


def customer(credit_limit: str | None = None, currency: str = "EUR") -> CustomerUpserted:
    data = {"name": "Rossi Forniture S.r.l."}
    if credit_limit is not None:
        data.update(credit_limit=credit_limit, currency=currency)
    return CustomerUpserted.model_validate(data)


def validate(outcomes: list[Outcome]) -> list[Outcome]:
    for o in outcomes:
        assert isinstance(o, Outcome)
        REGISTRY[o.type].model.model_validate(o.data)
    return outcomes


def check_conservation(ledger: Ledger) -> None:
    for currency in ledger.currencies():
        owed, open_less_unapplied = ledger.conservation(currency)
        assert owed == open_less_unapplied, (currency, owed, open_less_unapplied)
    for item in ledger.items.values():
        assert 0 <= item.open_amount <= item.amount, item
        assert item.is_open == (item.open_amount > 0), item


class Book:
    """One debtor's ledger driven like the service drives it: a transition, then
    the lock evaluation; outcomes validated, the law checked."""

    def __init__(self, policy: AgingPolicy = POLICY, today: date = TODAY) -> None:
        self.ledger = Ledger("acme", "c1")
        self.policy = policy
        self.today = today

    def do(self, fn, *args, on: date | None = None) -> list[Outcome]:
        on = on or self.today
        out = fn(self.ledger, *args, on, self.policy)
        out = out + evaluate_lock(self.ledger, on, self.policy)
        check_conservation(self.ledger)
        return validate(out)

    def tick(self, on: date) -> list[Outcome]:
        self.today = on
        return self.do(lambda ledger, business_date, policy: tick(ledger, business_date, policy), on=on)

    def item(self, invoice_id: str, installment: int | None = None):
        return self.ledger.items[(invoice_id, installment)]


def types(outcomes: list[Outcome]) -> list[str]:
    return [o.type for o in outcomes]


def of_type(outcomes: list[Outcome], type_: str) -> list[dict]:
    return [o.data for o in outcomes if o.type == type_]
