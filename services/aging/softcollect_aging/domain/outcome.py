"""What a transition tells the world: small records the service turns into
CloudEvents. Each `data` is JSON-ready (money and dates as strings) and
validates against the registry model of its `type`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

# Shared by every service's domain; re-exported for this domain's modules.
from softcollect_events import Outcome as Outcome
from softcollect_events import format_money

money = format_money  # the domain's short name for the wire's money string

if TYPE_CHECKING:
    from .ledger import Item


def _item_ref(item: Item) -> dict[str, Any]:
    ref: dict[str, Any] = {"invoice_id": item.invoice_id}
    if item.installment is not None:
        ref["installment"] = item.installment
    return ref


def receivable_opened(item: Item) -> Outcome:
    data = {
        **_item_ref(item),
        "due_date": item.due_date.isoformat(),
        "currency": item.currency,
        "amount": money(item.amount, item.currency),
        "open_amount": money(item.open_amount, item.currency),
    }
    return Outcome("receivable.opened", data, item.invoice_id)


def phase_changed(item: Item, from_phase: str, days_past_due: int) -> Outcome:
    data = {
        **_item_ref(item),
        "from": str(from_phase),
        "to": str(item.phase),
        "days_past_due": days_past_due,
        "currency": item.currency,
        "open_amount": money(item.open_amount, item.currency),
    }
    return Outcome("receivable.phase_changed", data, item.invoice_id)


def receivable_settled(item: Item, settled_on: date) -> Outcome:
    data = {
        **_item_ref(item),
        "settled_on": settled_on.isoformat(),
        "days_to_pay": (settled_on - item.due_date).days,
    }
    return Outcome("receivable.settled", data, item.invoice_id)


def receivable_handed_over(item: Item, days_past_due: int, reason: str) -> Outcome:
    data = {
        **_item_ref(item),
        "currency": item.currency,
        "open_amount": money(item.open_amount, item.currency),
        "days_past_due": days_past_due,
        "reason": reason,
    }
    return Outcome("receivable.handed_over", data, item.invoice_id)


def balance_changed(item: Item, cause: str) -> Outcome:
    data = {
        **_item_ref(item),
        "currency": item.currency,
        "open_amount": money(item.open_amount, item.currency),
        "cause": cause,
    }
    return Outcome("receivable.balance_changed", data, item.invoice_id)


def on_account_changed(currency: str, unapplied_cash: Decimal, credits: Decimal, cause: str) -> Outcome:
    data = {
        "currency": currency,
        "unapplied_cash": money(unapplied_cash, currency),
        "credits": money(credits, currency),
        "cause": cause,
    }
    return Outcome("customer.on_account_changed", data, None)


def payment_applied(payment_id: str, currency: str, allocations: Iterable[tuple[Item, Decimal]],
                    unapplied: Decimal, method: str, written_off: Decimal | None = None) -> Outcome:
    data: dict[str, Any] = {
        "payment_id": payment_id,
        "currency": currency,
        "allocations": [{**_item_ref(item), "amount": money(amount, currency)} for item, amount in allocations],
        "unapplied": money(unapplied, currency),
        "method": method,
    }
    if written_off:
        data["written_off"] = money(written_off, currency)
    return Outcome("payment.applied", data, payment_id)


def payment_unmatched(payment_id: str, currency: str, amount: Decimal, reason: str) -> Outcome:
    data = {"payment_id": payment_id, "currency": currency, "amount": money(amount, currency), "reason": reason}
    return Outcome("payment.unmatched", data, payment_id)


def position(type_: str, reason: str, currency: str, overdue_amount: Decimal, max_days_past_due: int) -> Outcome:
    data = {
        "reason": reason,
        "currency": currency,
        "overdue_amount": money(overdue_amount, currency),
        "max_days_past_due": max_days_past_due,
    }
    return Outcome(type_, data, None)
