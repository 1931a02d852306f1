"""Reminders' handlers: one per consumed type, each in the unit of work the runtime opens.

A debtor's event updates its view (and, for `customer.upserted`, its contact data, kept
apart). The tick decides for the debtors whose review date has come: suppressions, tasks
and resubmission requests are emitted at once; a written contact is queued for the mail
sender, which re-checks it against the view just before sending (sender.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from softcollect_events import CloudEvent, deterministic_id, new_event
from softcollect_runtime.uow import UnitOfWork

from . import domain
from .config import Tenants
from .domain import Debtor, Outcome, Policy, StepSpec
from .domain.review import WRITTEN_TYPES
from .store import RemindersRepository

SOURCE = "softcollect/reminders"


def event_time(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def emit(uow: UnitOfWork, outcomes: list[Outcome], cause: CloudEvent, tenantid: str, customerid: str,
         day: dt.date, *salt: str) -> None:
    # Ids derive from the cause, so a replay after a crash re-emits the same events.
    for n, out in enumerate(outcomes):
        uow.emit(new_event(out.type, out.data, source=SOURCE, tenantid=tenantid, customerid=customerid,
                           time=event_time(day), subject=out.subject, caused_by=cause,
                           id=deterministic_id(SOURCE, cause.source, cause.id, customerid, *salt, str(n))))


def message_key(out: Outcome) -> str:
    """The decided message's key: its Message-ID without the brackets and domain."""
    return out.data["message_id"].strip("<>").split("@", 1)[0]


def message_step(debtor: Debtor, policy: Policy, key: str, day: dt.date) -> StepSpec:
    """The step a message was decided at (its key derives from the step's name and the day)."""
    for step in policy.steps:
        if deterministic_id(debtor.key, step.name, day.isoformat()) == key:
            return step
    raise LookupError(f"no step of the policy made message {key}")


def make_handlers(tenants: Tenants) -> dict[str, Callable]:
    async def on_debtor_event(event: CloudEvent, uow: UnitOfWork[RemindersRepository]) -> None:
        repo = uow.repos
        config = tenants.config(event.tenantid)
        day = await repo.business_date(event.tenantid) or event.time.date()
        debtor = await repo.debtor(event.tenantid, event.customerid)
        domain.learn(debtor, event.type, event.data, day, default_language=config.language)
        if event.type == "customer.upserted":
            await repo.save_contact(event.tenantid, event.customerid, event.data.name, list(event.data.emails or []))
        repo.changed(debtor, tenants.policy(event.tenantid, debtor.contact.segment))

    async def on_tick(event: CloudEvent, uow: UnitOfWork[RemindersRepository]) -> None:
        repo, tenantid, day = uow.repos, event.tenantid, event.data.business_date
        last = await repo.business_date(tenantid)
        if last is not None and day < last:  # ingest refuses these; a stale one decides nothing
            return
        config = tenants.config(tenantid)
        await repo.set_business_date(tenantid, day)
        await repo.flush()  # the debtors' events of this batch so far count for the tick
        due = await repo.load_due(tenantid, day)
        cause = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        for customerid in due:
            debtor = await repo.debtor(tenantid, customerid)
            policy = tenants.policy(tenantid, debtor.contact.segment)
            is_business_day = domain.business_days(debtor.contact.country, config.country)
            outcomes = domain.decide(debtor, day, policy, is_business_day)
            repo.changed(debtor, policy)
            emit(uow, [o for o in outcomes if o.type not in WRITTEN_TYPES], event, tenantid, customerid, day)
            queue(repo, debtor, policy, [o for o in outcomes if o.type in WRITTEN_TYPES], day, cause)

    handlers: dict[str, Callable] = {t: on_debtor_event for t in domain.LEARNERS}
    handlers["clock.tick"] = on_tick
    return handlers


def queue(repo: RemindersRepository, debtor: Debtor, policy: Policy, written: list[Outcome], day: dt.date,
          cause: dict[str, Any]) -> None:
    """One queued message per Message-ID (a message may carry one outcome per currency)."""
    by_key: dict[str, list[Outcome]] = {}
    for out in written:
        by_key.setdefault(message_key(out), []).append(out)
    for key, outs in by_key.items():
        step = message_step(debtor, policy, key, day)
        repo.queue_message(
            message_key=key, tenantid=debtor.tenantid, customerid=debtor.customerid, business_date=day,
            step=step.name, template=step.template_name,
            planned=[{"type": o.type, "data": o.data, "subject": o.subject} for o in outs], cause=cause)
