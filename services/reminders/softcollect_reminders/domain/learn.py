"""How each consumed event changes the reminders service's view of a debtor.

One function per event type, `learn(debtor, type, data, business_date)`. The view holds
only what the decision needs; aging's figures are authoritative (`receivable.*`,
`receivable.balance_changed` and `customer.on_account_changed` carry absolute amounts, so
applying one twice or late changes nothing). Contact data (names, addresses) is not
learned here: the service keeps it apart, for the e-mail adapter only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from softcollect_events import DeliveryStatus, Phase

from .debtor import ZERO, Contact, Debtor, Hold, OpenItem, item_key

DELIVERED = frozenset({DeliveryStatus.delivered, DeliveryStatus.opened})

Learner = Callable[[Debtor, Any, date], None]


def _item(debtor: Debtor, data: Any) -> OpenItem | None:
    return debtor.items.get(item_key(data.invoice_id, data.installment))


def _opened(debtor: Debtor, data: Any, today: date) -> None:
    existing = _item(debtor, data)
    if existing is not None:  # a redelivered opening: amounts may have moved since
        return
    debtor.upsert_item(OpenItem(
        invoice_id=data.invoice_id, installment=data.installment,
        number=debtor.numbers.get(data.invoice_id, data.invoice_id), currency=data.currency,
        due_date=data.due_date, open_amount=data.open_amount, phase=Phase.upcoming))
    spread_disputes(debtor)


def _phase_changed(debtor: Debtor, data: Any, today: date) -> None:
    item = _item(debtor, data)
    if item is not None:
        item.phase = data.to
        item.open_amount = data.open_amount
        spread_disputes(debtor)


def _settled(debtor: Debtor, data: Any, today: date) -> None:
    item = _item(debtor, data)
    if item is not None:
        item.phase = Phase.settled
        item.open_amount = ZERO


def _handed_over(debtor: Debtor, data: Any, today: date) -> None:
    item = _item(debtor, data)
    if item is not None:
        item.phase = Phase.handed_over


def _balance_changed(debtor: Debtor, data: Any, today: date) -> None:
    item = _item(debtor, data)
    if item is not None:
        item.open_amount = data.open_amount
        spread_disputes(debtor)


def _on_account(debtor: Debtor, data: Any, today: date) -> None:
    debtor.unapplied[data.currency] = data.unapplied_cash
    debtor.credits[data.currency] = data.credits


def _invoice_issued(debtor: Debtor, data: Any, today: date) -> None:
    debtor.numbers[data.invoice_id] = data.number
    for item in debtor.items.values():
        if item.invoice_id == data.invoice_id:
            item.number = data.number


def _delivery(debtor: Debtor, data: Any, today: date) -> None:
    delivery = debtor.delivery(data.invoice_id)
    if data.status in DELIVERED:
        delivery.status = "delivered"
    elif delivery.status != "delivered":  # a later failure report does not undo a delivery
        delivery.status = "failed"


def _customer(debtor: Debtor, data: Any, today: date, default_language: str = "it") -> None:
    debtor.contact = Contact(
        has_email=bool(data.emails), language=data.language or default_language, country=data.country,
        segment=data.segment, account_manager=data.account_manager)


def _hold_placed(debtor: Debtor, data: Any, today: date) -> None:
    invoice_id = data.invoice_id if str(data.scope) == "invoice" else None
    debtor.holds[data.hold_id] = Hold(data.hold_id, invoice_id, data.until)


def _hold_released(debtor: Debtor, data: Any, today: date) -> None:
    debtor.holds.pop(data.hold_id, None)


def _locked(debtor: Debtor, data: Any, today: date) -> None:
    debtor.locked = True


def _unlocked(debtor: Debtor, data: Any, today: date) -> None:
    debtor.locked = False


def _dispute_opened(debtor: Debtor, data: Any, today: date) -> None:
    debtor.disputes[data.dispute_id] = (data.invoice_id, data.amount)
    spread_disputes(debtor)


def _dispute_closed(debtor: Debtor, data: Any, today: date) -> None:
    if debtor.disputes.pop(data.dispute_id, None) is not None:
        spread_disputes(debtor)


def _risk(debtor: Debtor, data: Any, today: date) -> None:
    debtor.risk_score = data.score


def _promise_registered(debtor: Debtor, data: Any, today: date) -> None:
    for invoice_id in data.invoice_ids:  # one open promise per item: a new one replaces it
        debtor.promises[invoice_id] = data.promised_date


def _promise_closed(debtor: Debtor, data: Any, today: date) -> None:
    for invoice_id in data.invoice_ids:
        if debtor.promises.get(invoice_id) == data.promised_date:
            del debtor.promises[invoice_id]


def _arrangement_started(key: str) -> Learner:
    def learn(debtor: Debtor, data: Any, today: date) -> None:
        debtor.arrangements[getattr(data, key)] = list(data.invoice_ids)
    return learn


def _arrangement_ended(key: str) -> Learner:
    def learn(debtor: Debtor, data: Any, today: date) -> None:
        debtor.arrangements.pop(getattr(data, key), None)
    return learn


def spread_disputes(debtor: Debtor) -> None:
    """Each open dispute's amount over its invoice's items, earliest due first, up to their
    open amounts (a dispute covers an amount of the invoice, DOMAIN.md §7)."""
    by_invoice: dict[str, Decimal] = {}
    for invoice_id, amount in debtor.disputes.values():
        by_invoice[invoice_id] = by_invoice.get(invoice_id, ZERO) + amount
    for item in sorted(debtor.items.values(), key=lambda i: (i.invoice_id, i.due_date, i.installment or 0)):
        rest = by_invoice.get(item.invoice_id, ZERO)
        item.disputed_amount = min(rest, max(item.open_amount, ZERO))
        if rest:
            by_invoice[item.invoice_id] = rest - item.disputed_amount


LEARNERS: dict[str, Learner] = {
    "receivable.opened": _opened,
    "receivable.phase_changed": _phase_changed,
    "receivable.settled": _settled,
    "receivable.handed_over": _handed_over,
    "receivable.balance_changed": _balance_changed,
    "customer.on_account_changed": _on_account,
    "invoice.issued": _invoice_issued,
    "invoice.delivery_reported": _delivery,
    "customer.upserted": _customer,
    "hold.placed": _hold_placed,
    "hold.released": _hold_released,
    "customer.locked": _locked,
    "customer.unlocked": _unlocked,
    "dispute.opened": _dispute_opened,
    "dispute.closed": _dispute_closed,
    "risk.flagged": _risk,
    "promise.registered": _promise_registered,
    "promise.kept": _promise_closed,
    "promise.partially_kept": _promise_closed,
    "promise.broken": _promise_closed,
    "plan.activated": _arrangement_started("plan_id"),
    "plan.broken": _arrangement_ended("plan_id"),
    "plan.completed": _arrangement_ended("plan_id"),
    "settlement.agreed": _arrangement_started("settlement_id"),
    "settlement.completed": _arrangement_ended("settlement_id"),
    "settlement.lapsed": _arrangement_ended("settlement_id"),
}


def learn(debtor: Debtor, type_: str, data: Any, today: date, default_language: str = "it") -> None:
    """Apply one consumed event to the view (see LEARNERS for the types)."""
    if type_ == "customer.upserted":
        _customer(debtor, data, today, default_language)
    else:
        LEARNERS[type_](debtor, data, today)
