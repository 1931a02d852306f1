"""The balances a consumer follows from aging's outcomes alone: every item's open
amount, and per currency the debtor's money on account split into unapplied cash
(payments) and credits (credit notes).

The service takes `balances(ledger)` before a transition and passes it to
`balance_changes` after it: one `receivable.balance_changed` per item whose open
amount moved, in ledger order, then one `customer.on_account_changed` per currency
whose figures moved, currencies sorted. Folding `receivable.opened`, then the latest
`receivable.balance_changed` per item and the latest `customer.on_account_changed`
per currency, gives the ledger's figures after every event. The tick only moves
phases, never money, so the service does not take balances around it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from . import outcome
from .ledger import ZERO, ItemKey, Ledger
from .outcome import Outcome

_NOTHING = (ZERO, ZERO)


@dataclass(frozen=True)
class Balances:
    open_amounts: dict[ItemKey, Decimal]  # every item, terminal ones too (a reversal reopens them)
    on_account: dict[str, tuple[Decimal, Decimal]]  # currency -> (unapplied cash, credits)


def balances(ledger: Ledger) -> Balances:
    """A copy of the figures `balance_changes` compares: one pass over items and sources."""
    return Balances({key: item.open_amount for key, item in ledger.items.items()}, ledger.money_on_account())


def balance_changes(before: Balances, ledger: Ledger, cause: str, outcomes: Iterable[Outcome] = ()) -> list[Outcome]:
    """What changed since `before`, each naming `cause` (the type of the event applied).

    `outcomes` are the transition's own: an item it opened changed from the open amount
    its `receivable.opened` announced (money held for the invoice is applied after the
    opening, so the consumer sees the opening and then the change). An item created
    without a `receivable.opened` (its cancellation came first) is never reported."""
    opened = {(o.data["invoice_id"], o.data.get("installment")): Decimal(o.data["open_amount"])
              for o in outcomes if o.type == "receivable.opened"}
    out = []
    for key, item in ledger.items.items():
        was = before.open_amounts.get(key, opened.get(key))
        if was is not None and item.open_amount != was:
            out.append(outcome.balance_changed(item, cause))
    after = ledger.money_on_account()
    for currency in sorted(before.on_account.keys() | after.keys()):
        now = after.get(currency, _NOTHING)
        if now != before.on_account.get(currency, _NOTHING):
            out.append(outcome.on_account_changed(currency, *now, cause))
    return out
