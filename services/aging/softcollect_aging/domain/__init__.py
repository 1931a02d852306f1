"""The aging service's domain, pure: the per-debtor ledger and its transitions.

No IO, no wall clock: business time is always the explicit `business_date`
(the tenant's date from `clock.tick`), money is always `Decimal`.

Modules: `ledger` (state, aging, conservation, serialisation), `phases`,
`matching` (references and the combination rule), `cash` (invoices, credit
notes, payments, reversals), `locks` (holds, disputes, plans, customer, lock),
`clock` (the tick), `kpis` (tenant KPIs), `outcome` (what transitions emit),
`balances` (the open amounts and money on account consumers follow, and their changes).

Every transition is `f(ledger, <event data or small inputs>, business_date,
policy) -> list[Outcome]`; it mutates the ledger in place. The service calls
`evaluate_lock` after each one, and (except after the tick) `balance_changes`
against the `balances` taken before it.
"""

from .balances import Balances, balance_changes, balances
from .cash import cancel_invoice, issue_credit_note, issue_invoice, receive_payment, reverse_payment, write_off
from .clock import tick
from .kpis import count_back_dso, portfolio_kpis
from .ledger import CREDIT_NOTE, PAYMENT, DebtorSummary, Dispute, Hold, Item, ItemKey, Ledger, Source, Totals
from .locks import (
    close_dispute,
    cover_by_plan,
    evaluate_lock,
    lock_rules,
    open_dispute,
    overdue_position,
    place_hold,
    release_hold,
    release_plan,
    upsert_customer,
)
from .matching import FUZZY_MAX_DISTANCE, FUZZY_MIN_LENGTH, normalize_ref
from .outcome import Outcome
from .phases import LIVE, TERMINAL, days_past_due, phase_for

__all__ = [
    "CREDIT_NOTE",
    "FUZZY_MAX_DISTANCE",
    "FUZZY_MIN_LENGTH",
    "LIVE",
    "PAYMENT",
    "TERMINAL",
    "Balances",
    "DebtorSummary",
    "Dispute",
    "Hold",
    "Item",
    "ItemKey",
    "Ledger",
    "Outcome",
    "Source",
    "Totals",
    "balance_changes",
    "balances",
    "cancel_invoice",
    "close_dispute",
    "count_back_dso",
    "cover_by_plan",
    "days_past_due",
    "evaluate_lock",
    "issue_credit_note",
    "issue_invoice",
    "lock_rules",
    "normalize_ref",
    "open_dispute",
    "overdue_position",
    "phase_for",
    "place_hold",
    "portfolio_kpis",
    "receive_payment",
    "release_hold",
    "release_plan",
    "reverse_payment",
    "tick",
    "upsert_customer",
    "write_off",
]
