"""Holds, disputes, plans, customer master data, and the customer position lock
(DOMAIN.md §6).

Holds, disputes and plans only change what counts towards the lock (and what
the reminders may chase); they emit nothing themselves. The service calls
`evaluate_lock` after every transition, which emits `customer.locked` or
`customer.unlocked` only when the position actually changes.

The lock belongs to the customer, not to a currency (the client's ERP blocks
orders per customer); the event reports the currency of the rule that locked
it, and the unlock the same currency's figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from softcollect_events import CustomerUpserted, HoldPlaced, HoldReleased
from softcollect_runtime.tenants import AgingPolicy

from . import outcome
from .ledger import ZERO, Dispute, Hold, Ledger
from .outcome import Outcome
from .phases import days_past_due

OVERDUE = "overdue"
PLAN_BROKEN = "plan_broken"
CREDIT_LIMIT_EXCEEDED = "credit_limit_exceeded"
NO_RULE_HOLDS = "no_rule_holds"


# --- holds -------------------------------------------------------------------


def place_hold(ledger: Ledger, hold: HoldPlaced, business_date: date, policy: AgingPolicy) -> list[Outcome]:
    """A manual hold on the customer or one invoice (which may not have arrived yet)."""
    ledger.see_date(business_date)
    ledger.holds[hold.hold_id] = Hold(hold.hold_id, str(hold.scope), hold.invoice_id, hold.until)
    return []


def release_hold(ledger: Ledger, release: HoldReleased, business_date: date, policy: AgingPolicy) -> list[Outcome]:
    """Ends a hold before its `until` (a hold with `until` also ends by itself after that day)."""
    ledger.see_date(business_date)
    ledger.holds.pop(release.hold_id, None)
    return []


# --- disputes ----------------------------------------------------------------


def open_dispute(ledger: Ledger, invoice_id: str, dispute_id: str, amount: Decimal | None,
                 business_date: date, policy: AgingPolicy) -> list[Outcome]:
    """The disputed part of the invoice (None: all of its open amount) leaves the
    lock amount until the dispute closes."""
    ledger.see_date(business_date)
    ledger.disputes[dispute_id] = Dispute(dispute_id, invoice_id, amount)
    return []


def close_dispute(ledger: Ledger, dispute_id: str, business_date: date, policy: AgingPolicy) -> list[Outcome]:
    """An upheld part comes back as a credit note; a rejected one returns to collection at its real age."""
    ledger.see_date(business_date)
    ledger.disputes.pop(dispute_id, None)
    return []


# --- plans -------------------------------------------------------------------


def cover_by_plan(ledger: Ledger, plan_id: str, invoice_ids: Iterable[str], business_date: date,
                  policy: AgingPolicy) -> list[Outcome]:
    """An activated plan puts its open items on hold; it also ends the lock of an
    earlier broken plan (DOMAIN.md §6: "until a later plan activates")."""
    ledger.see_date(business_date)
    for invoice_id in invoice_ids:
        for item in ledger.invoice_items(invoice_id):
            if item.is_open:
                item.covered_by_plan = plan_id
    ledger.broken_plans.clear()
    return []


def release_plan(ledger: Ledger, plan_id: str, broken: bool, business_date: date,
                 policy: AgingPolicy) -> list[Outcome]:
    """The plan ended (completed, cancelled or broken): its items return to
    collection with their real age; a broken plan locks while they stay open."""
    ledger.see_date(business_date)
    covered = []
    for item in ledger.items.values():
        if item.covered_by_plan == plan_id:
            item.covered_by_plan = None
            covered.append(item.invoice_id)
    if broken and covered:
        ledger.broken_plans[plan_id] = sorted(set(covered))
    return []


# --- customer ----------------------------------------------------------------


def upsert_customer(ledger: Ledger, customer: CustomerUpserted, business_date: date,
                    policy: AgingPolicy) -> list[Outcome]:
    """Master data replaces the old: a credit limit left out is gone."""
    ledger.see_date(business_date)
    ledger.credit_limit = customer.credit_limit
    ledger.credit_currency = customer.currency if customer.credit_limit is not None else None
    return []


# --- the lock ----------------------------------------------------------------


@dataclass(frozen=True)
class OverduePosition:
    amount: Decimal  # undisputed, unheld overdue amount
    max_days_past_due: int  # of the oldest item counted in it (0 if none)


def overdue_position(ledger: Ledger, currency: str, business_date: date) -> OverduePosition:
    """What the lock rule weighs: overdue items (handed-over ones too: still owed),
    less their disputed part, less items on hold or under an active plan."""
    disputed = ledger.disputed_by_item()
    amount, oldest = ZERO, 0
    for item in ledger.open_items(currency):
        days = days_past_due(item.due_date, business_date)
        if days < 1 or ledger.is_held(item, business_date):
            continue
        undisputed = item.open_amount - disputed.get(item.key, ZERO)
        if undisputed > 0:
            amount += undisputed
            oldest = max(oldest, days)
    return OverduePosition(amount, oldest)


def lock_rules(ledger: Ledger, business_date: date, policy: AgingPolicy) -> list[tuple[str, str]]:
    """Every (rule, currency) that holds now, in the order they are reported."""
    rules = []
    for currency in ledger.currencies():
        pos = overdue_position(ledger, currency, business_date)
        if pos.amount > 0 and pos.amount >= policy.lock_min_amount \
                and pos.max_days_past_due >= policy.lock_min_days_past_due:
            rules.append((OVERDUE, currency))
    for invoice_ids in ledger.broken_plans.values():
        still_open = [i for i in ledger.open_items() if i.invoice_id in invoice_ids]
        if still_open:
            rules.append((PLAN_BROKEN, still_open[0].currency))
    if ledger.credit_limit is not None and ledger.credit_currency is not None:
        currency = ledger.credit_currency
        exposure = ledger.open_total(currency) - ledger.unapplied(currency)
        if exposure > ledger.credit_limit:
            rules.append((CREDIT_LIMIT_EXCEEDED, currency))
    return rules


def evaluate_lock(ledger: Ledger, business_date: date, policy: AgingPolicy) -> list[Outcome]:
    """Lock when a rule holds, unlock as soon as none does; one event per change, never a repeat."""
    ledger.broken_plans = {plan: ids for plan, ids in ledger.broken_plans.items()
                           if any(i.invoice_id in ids for i in ledger.open_items())}  # paid: no longer locks
    rules = lock_rules(ledger, business_date, policy)
    if rules and not ledger.locked:
        reason, currency = rules[0]
        ledger.locked, ledger.lock_reason, ledger.lock_currency = True, reason, currency
        pos = overdue_position(ledger, currency, business_date)
        return [outcome.position("customer.locked", reason, currency, pos.amount, pos.max_days_past_due)]
    if not rules and ledger.locked:
        currency = ledger.lock_currency or ledger.currencies()[0]
        ledger.locked, ledger.lock_reason = False, NO_RULE_HOLDS
        pos = overdue_position(ledger, currency, business_date)
        return [outcome.position("customer.unlocked", NO_RULE_HOLDS, currency, pos.amount, pos.max_days_past_due)]
    return []
