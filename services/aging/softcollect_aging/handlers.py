"""Aging's handlers: one per consumed type, each in the unit of work the runtime opens.

A debtor's event loads its ledger, runs the domain transition, re-evaluates the lock,
reports the open amounts and money on account it moved, journals the event (for replays
of any past date), saves, and emits the outcomes. The tick moves only the ledgers whose
review date has come (phases only: no balance changes to report), then publishes the
day's snapshots and KPIs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from softcollect_events import TENANT_CUSTOMERID, CloudEvent, deterministic_id, new_event
from softcollect_runtime.tenants import AgingPolicy
from softcollect_runtime.uow import UnitOfWork

from . import domain
from .config import Policies
from .domain import Ledger, Outcome
from .store import AgingRepository

SOURCE = "softcollect/aging"

Transition = Callable[[Ledger, Any, dt.date, AgingPolicy], list[Outcome]]

# Every event that changes a debtor's ledger, and the domain transition it runs. The same
# table replays the journal for `softcollect aging --as-of`.
TRANSITIONS: dict[str, Transition] = {
    "invoice.issued": domain.issue_invoice,
    "invoice.cancelled": domain.cancel_invoice,
    "credit_note.issued": domain.issue_credit_note,
    "payment.received": domain.receive_payment,
    "payment.reversed": domain.reverse_payment,
    "customer.upserted": domain.upsert_customer,
    "hold.placed": domain.place_hold,
    "hold.released": domain.release_hold,
    "dispute.opened": lambda led, d, day, p: domain.open_dispute(led, d.invoice_id, d.dispute_id, d.amount, day, p),
    "dispute.closed": lambda led, d, day, p: domain.close_dispute(led, d.dispute_id, day, p),
    "plan.activated": lambda led, d, day, p: domain.cover_by_plan(led, d.plan_id, d.invoice_ids, day, p),
    "plan.broken": lambda led, d, day, p: domain.release_plan(led, d.plan_id, True, day, p),
    "plan.completed": lambda led, d, day, p: domain.release_plan(led, d.plan_id, False, day, p),
    "settlement.completed": lambda led, d, day, p: domain.write_off(led, d.invoice_ids, day, p),
}


def apply(ledger: Ledger, type_: str, data: Any, day: dt.date, policy: AgingPolicy) -> list[Outcome]:
    """One transition, the lock it may change, and the balances it moved (`receivable.balance_changed`,
    `customer.on_account_changed`, last: the other outcomes keep the positions, hence the ids, they had)."""
    before = domain.balances(ledger)
    out = TRANSITIONS[type_](ledger, data, day, policy)
    return out + domain.evaluate_lock(ledger, day, policy) + domain.balance_changes(before, ledger, type_, out)


def emit(uow: UnitOfWork, outcomes: list[Outcome], cause: CloudEvent, tenantid: str, customerid: str,
         day: dt.date) -> None:
    # Ids derive from the cause and the outcome's position in the transition's (deterministic) list, so a
    # replay after a crash re-emits the same events, and two of one type from one cause never share an id.
    for n, out in enumerate(outcomes):
        uow.emit(new_event(out.type, out.data, source=SOURCE, tenantid=tenantid, customerid=customerid,
                           time=dt.datetime.combine(day, dt.time(), dt.UTC), subject=out.subject, caused_by=cause,
                           id=deterministic_id(SOURCE, cause.source, cause.id, customerid, str(n))))


def make_handlers(policies: Policies) -> dict[str, Callable]:
    async def on_debtor_event(event: CloudEvent, uow: UnitOfWork[AgingRepository]) -> None:
        repo = uow.repos
        # The tenant's business date; before its first tick, the date the fact happened.
        day = await repo.business_date(event.tenantid) or event.time.date()
        policy = policies.aging(event.tenantid)
        ledger = await repo.ledger(event.tenantid, event.customerid)
        outcomes = apply(ledger, event.type, event.data, day, policy)
        repo.record(event.tenantid, event.customerid, day, event.type,
                    event.data.model_dump(mode="json", exclude_none=True))
        repo.changed(ledger, policy)
        emit(uow, outcomes, event, event.tenantid, event.customerid, day)

    async def on_tick(event: CloudEvent, uow: UnitOfWork[AgingRepository]) -> None:
        repo, tenantid, day = uow.repos, event.tenantid, event.data.business_date
        policy = policies.aging(tenantid)
        await repo.set_business_date(tenantid, day)
        await repo.flush()  # the debtors' events of this batch so far count for the tick
        due = await repo.load_due(tenantid, day)
        for customerid in due:
            ledger = await repo.ledger(tenantid, customerid)
            outcomes = domain.tick(ledger, day, policy) + domain.evaluate_lock(ledger, day, policy)
            repo.changed(ledger, policy)
            emit(uow, outcomes, event, tenantid, customerid, day)
        await repo.flush()
        await publish_day(uow, event, tenantid, day)

    handlers = {t: on_debtor_event for t in TRANSITIONS}
    handlers["clock.tick"] = on_tick
    return handlers


async def publish_day(uow: UnitOfWork[AgingRepository], tick: CloudEvent, tenantid: str, day: dt.date) -> None:
    """After the tick: each debtor's aging.snapshot, then the tenant's portfolio.kpis per currency."""
    summaries: dict[str, list] = {}
    async for customerid, state in uow.repos.with_balance(tenantid):
        ledger = Ledger.from_dict(state)
        emit(uow, ledger.snapshot(day), tick, tenantid, customerid, day)
        for currency in ledger.currencies():
            summaries.setdefault(currency, []).append(ledger.summary(day, currency))
    for currency, debtors in sorted(summaries.items()):
        emit(uow, [domain.portfolio_kpis(day, currency, debtors)], tick, tenantid, TENANT_CUSTOMERID, day)
