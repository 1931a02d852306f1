"""One debtor, one business day: which steps are reached, what goes out and
why the rest does not (DOMAIN.md §3, §4).

`decide` mutates the debtor view in place (steps done, deferral notices,
last written contact, resubmission dates), like aging's transitions, and
returns the outcomes in a deterministic order:

1. non-business day: only deferral notices (`non_business_day`, `until` the
   next business day); nothing is consumed.
2. per item, the highest pending step wins; lower pending steps are
   `superseded` (consumed).
3. `delivery_check` winners: `invoice.resubmission_requested` unless delivered.
   `handover` winners: nothing (aging hands the item over).
4. item-level suppression of the winner, first rule that holds, in §4 order:
   `disputed` (nothing undisputed left), `promise_pending`, `plan_active`,
   `on_hold`, `delivery_unconfirmed` (consumed).
5. call winners: one `task.created` `phone_call` per currency, at the highest
   call step, unless `below_minimum` / `unapplied_cash` (consumed).
6. written winners (`email`, `statement`): per currency `below_minimum` /
   `unapplied_cash`; then for the whole debtor `no_contact`,
   `key_account_approval` (consumed, with a task), `frequency_cap` (deferred:
   pending, re-tried every tick, notice not repeated); otherwise ONE message
   at the highest written step: one `reminder.sent` (or `statement.sent` when
   that step is a statement) per currency, all sharing one `message_id`.

A message lists every item of its currency that reached a written step today
plus every other open item already due (days past due >= 0) that no item-level
rule suppresses. `amount_due` = undisputed open amount of the listed items
minus open credit notes and unapplied cash of that currency (CONTRACT.md's
"net of credits and unapplied cash").

Task priority (0-100), all tasks::

    priority = min(100, step.priority                       # policy base: first_call 10, second_call 20
                        + min(30, amount // 200)            # 1 point per 200 of the amount, at most 30
                        + min(20, max(0, days_past_due))    # 1 point per day past due of the oldest item, at most 20
                        + risk_score * 30 // 100)           # 0-30 from the debtor's risk score 0-100
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from softcollect_events import SuppressionReason, TaskKind, deterministic_id

from .debtor import ZERO, Debtor, Notice, OpenItem
from .outcome import Outcome, money, subject_of
from .policy import Policy, StepSpec

R = SuppressionReason
MAX_LOOKAHEAD_DAYS = 400
DEFERRALS = frozenset({R.non_business_day, R.frequency_cap})


def next_business_day(after: date, is_business_day: Callable[[date], bool]) -> date:
    day = after
    for _ in range(MAX_LOOKAHEAD_DAYS):
        day += timedelta(days=1)
        if is_business_day(day):
            return day
    raise ValueError(f"no business day within {MAX_LOOKAHEAD_DAYS} days after {after.isoformat()}")


def task_priority(base: int, amount: Decimal, days_past_due: int, risk_score: int) -> int:
    """The documented task priority formula (module docstring)."""
    amount_points = min(30, int(max(amount, ZERO) // 200))
    age_points = min(20, max(0, days_past_due))
    risk_points = max(0, min(100, risk_score)) * 30 // 100
    return max(0, min(100, base + amount_points + age_points + risk_points))


def _invoice_ids(items: Iterable[OpenItem]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item.invoice_id, None)
    return list(seen)


def _order(item: OpenItem) -> tuple[Any, ...]:
    return (item.due_date, item.invoice_id, item.installment or 0)


@dataclass
class _Day:
    debtor: Debtor
    today: date
    policy: Policy
    out: list[Outcome] = field(default_factory=list)
    tasks: set[str] = field(default_factory=set)

    # --- emitters -----------------------------------------------------------

    def suppressed(self, step: str, items: list[OpenItem], reason: R, until: date | None = None) -> None:
        if reason in DEFERRALS:
            notice = Notice(step, str(reason), until)
            items = [i for i in items if self.debtor.notices.get(i.key) != notice]
            for i in items:
                self.debtor.notices[i.key] = notice
        if not items:
            return
        ids = _invoice_ids(items)
        data: dict[str, Any] = {"step": step, "invoice_ids": ids, "reason": str(reason)}
        if until is not None:
            data["until"] = until.isoformat()
        self.out.append(Outcome("reminder.suppressed", data, subject_of(ids)))

    def task(self, kind: TaskKind, step: StepSpec, items: list[OpenItem], currency: str, amount: Decimal) -> None:
        task_id = deterministic_id(self.debtor.key, "task", str(kind), step.name, self.today.isoformat(), currency)
        if task_id in self.tasks:
            return
        self.tasks.add(task_id)
        ids = _invoice_ids(items)
        oldest = max((i.days_past_due(self.today) for i in items), default=0)
        data = {
            "task_id": task_id,
            "kind": str(kind),
            "priority": task_priority(step.priority, amount, oldest, self.debtor.risk_score),
            "due_date": self.today.isoformat(),
            "invoice_ids": ids,
            "currency": currency,
            "amount": money(max(amount, ZERO), currency),
            "step": step.name,
        }
        if kind == TaskKind.account_manager_review and self.debtor.contact.account_manager:
            data["assignee"] = self.debtor.contact.account_manager
        self.out.append(Outcome("task.created", data, subject_of(ids)))

    # --- rules --------------------------------------------------------------

    def item_block(self, item: OpenItem) -> R | None:
        """First item-level rule of DOMAIN.md §4 that holds, in the table's order."""
        d, p = self.debtor, self.policy
        if item.undisputed <= 0:
            return R.disputed
        promised = d.promises.get(item.invoice_id)
        if promised is not None and self.today <= promised + timedelta(days=p.promise_grace_days):
            return R.promise_pending
        if any(item.invoice_id in ids for ids in d.arrangements.values()):
            return R.plan_active
        if any(h.covers(item.invoice_id, self.today) for h in d.holds.values()):
            return R.on_hold
        delivery = d.deliveries.get(item.invoice_id)
        if (
            delivery is not None
            and delivery.status != "delivered"
            and delivery.last_resubmission is not None
            and (self.today - delivery.last_resubmission).days < p.resubmission_quiet_days
        ):
            return R.delivery_unconfirmed
        return None

    def listing(self, currency: str, triggers: list[OpenItem], eligible: list[OpenItem]) -> list[OpenItem]:
        keys = {i.key for i in triggers}
        listed = [
            i for i in eligible
            if i.currency == currency and (i.key in keys or i.days_past_due(self.today) >= 0)
        ]
        return sorted(listed, key=_order)

    def money_block(self, currency: str, listed: list[OpenItem]) -> tuple[R | None, Decimal, Decimal]:
        """(`below_minimum` | `unapplied_cash` | None, gross undisputed, net amount due)."""
        gross = sum((i.undisputed for i in listed), ZERO)
        net = gross - self.debtor.credits.get(currency, ZERO) - self.debtor.unapplied.get(currency, ZERO)
        if gross < self.policy.minimum_amount:
            return R.below_minimum, gross, net
        if net <= 0:
            return R.unapplied_cash, gross, net
        if net < self.policy.minimum_amount:
            return R.below_minimum, gross, net
        return None, gross, net


def decide(
    debtor: Debtor, business_date: date, policy: Policy, is_business_day: Callable[[date], bool]
) -> list[Outcome]:
    """The outcomes of one debtor's reminder decision on `business_date` (see module docstring)."""
    day = _Day(debtor, business_date, policy)
    active = sorted((i for i in debtor.items.values() if i.active), key=_order)

    pending: dict[str, list[StepSpec]] = {}
    for item in active:
        dpd = item.days_past_due(business_date)
        done = debtor.steps_done.get(item.key, [])
        steps = [s for s in policy.steps if s.day <= dpd and s.name not in done]
        if steps:
            pending[item.key] = steps
    if not pending:
        return []
    by_key = {i.key: i for i in active}

    if not is_business_day(business_date):
        until = next_business_day(business_date, is_business_day)
        for step, items in _group((pending[k][-1], by_key[k]) for k in pending):
            day.suppressed(step.name, items, R.non_business_day, until)
        return day.out

    # 2. the highest pending step wins per item; the skipped ones are superseded
    winners: dict[str, StepSpec] = {}
    superseded: list[tuple[StepSpec, OpenItem]] = []
    for key, steps in pending.items():
        winners[key] = steps[-1]
        for s in steps[:-1]:
            debtor.mark_done(key, s.name)
            superseded.append((s, by_key[key]))
    for step, items in _group(superseded):
        day.suppressed(step.name, items, R.superseded)

    # 3. delivery checks and hand-overs
    requested: set[str] = set()
    for key, step in winners.items():
        if step.action not in ("delivery_check", "handover"):
            continue
        debtor.mark_done(key, step.name)
        item = by_key[key]
        if step.action == "delivery_check" and item.invoice_id not in requested:
            delivery = debtor.delivery(item.invoice_id)
            if delivery.status != "delivered":
                requested.add(item.invoice_id)
                reason = (
                    "delivery failed" if delivery.status == "failed"
                    else f"no delivered report {-step.day} days before due date"
                    if step.day < 0 else "no delivered report"
                )
                delivery.last_resubmission = business_date
                day.out.append(Outcome(
                    "invoice.resubmission_requested",
                    {"invoice_id": item.invoice_id, "reason": reason},
                    item.invoice_id,
                ))

    # 4. item-level suppression
    blocks = {i.key: day.item_block(i) for i in active}
    eligible = [i for i in active if blocks[i.key] is None]
    calls: list[OpenItem] = []
    written: list[OpenItem] = []
    blocked: list[tuple[tuple[StepSpec, R], OpenItem]] = []
    for key, step in winners.items():
        if step.action in ("delivery_check", "handover"):
            continue
        item = by_key[key]
        reason = blocks[key]
        if reason is not None:
            debtor.mark_done(key, step.name)
            blocked.append(((step, reason), item))
        elif step.action == "call_task":
            calls.append(item)
        else:
            written.append(item)
    for (step, reason), items in _group(blocked):
        day.suppressed(step.name, items, reason)

    _calls(day, calls, winners, eligible)
    _written(day, written, winners, eligible)
    return day.out


def _group(pairs: Iterable[tuple[Any, OpenItem]]) -> list[tuple[Any, list[OpenItem]]]:
    groups: dict[Any, list[OpenItem]] = {}
    for k, item in pairs:
        groups.setdefault(k, []).append(item)
    return list(groups.items())


def _by_currency(items: list[OpenItem]) -> list[tuple[str, list[OpenItem]]]:
    return sorted(_group((i.currency, i) for i in items))


def _highest(day: _Day, items: list[OpenItem], winners: dict[str, StepSpec]) -> StepSpec:
    return max((winners[i.key] for i in items), key=day.policy.rank)


def _consume(day: _Day, items: list[OpenItem], winners: dict[str, StepSpec]) -> None:
    for i in items:
        day.debtor.mark_done(i.key, winners[i.key].name)


def _money_checked(
    day: _Day, triggers: list[OpenItem], winners: dict[str, StepSpec], eligible: list[OpenItem]
) -> list[tuple[str, list[OpenItem], list[OpenItem], Decimal]]:
    """Per currency: (currency, triggers, listed, amount due) of the groups that pass the money rules;
    the others are suppressed and consumed here."""
    passed = []
    for currency, group in _by_currency(triggers):
        step = _highest(day, group, winners)
        listed = day.listing(currency, group, eligible)
        reason, gross, net = day.money_block(currency, listed)
        if reason is None:
            passed.append((currency, group, listed, net))
            continue
        _consume(day, group, winners)
        day.suppressed(step.name, group, reason)
        if reason == R.unapplied_cash:
            day.task(TaskKind.reconcile_payment, step, listed, currency, gross)
    return passed


def _calls(day: _Day, calls: list[OpenItem], winners: dict[str, StepSpec], eligible: list[OpenItem]) -> None:
    for _currency, group, listed, net in _money_checked(day, calls, winners, eligible):
        step = _highest(day, group, winners)
        _consume(day, group, winners)
        day.task(TaskKind.phone_call, step, listed, group[0].currency, net)


def _written(day: _Day, written: list[OpenItem], winners: dict[str, StepSpec], eligible: list[OpenItem]) -> None:
    groups = _money_checked(day, written, winners, eligible)
    if not groups:
        return
    debtor, policy, today = day.debtor, day.policy, day.today
    triggers = [i for _, group, _, _ in groups for i in group]
    step = _highest(day, triggers, winners)

    if not debtor.contact.has_email:
        _consume(day, triggers, winners)
        day.suppressed(step.name, triggers, R.no_contact)
        for currency, _, listed, net in groups:
            day.task(TaskKind.verify_contact, step, listed, currency, net)
        return
    if policy.approval_after_day is not None and step.day > policy.approval_after_day:
        _consume(day, triggers, winners)
        day.suppressed(step.name, triggers, R.key_account_approval)
        for currency, _, listed, net in groups:
            day.task(TaskKind.account_manager_review, step, listed, currency, net)
        return
    last = debtor.last_written_contact
    if last is not None and (today - last).days < policy.frequency_cap_days:
        day.suppressed(step.name, triggers, R.frequency_cap, last + timedelta(days=policy.frequency_cap_days))
        return

    _consume(day, triggers, winners)
    debtor.last_written_contact = today
    message_key = deterministic_id(debtor.key, step.name, today.isoformat())
    message_id = f"<{message_key}@softcollect>"
    for currency, _, listed, net in groups:
        ids = _invoice_ids(listed)
        event_id = message_key if len(groups) == 1 else deterministic_id(
            debtor.key, step.name, today.isoformat(), currency)
        if step.action == "statement":
            data = {
                "statement_id": event_id,
                "as_of": today.isoformat(),
                "currency": currency,
                "open_amount": money(net, currency),
                "message_id": message_id,
                "invoice_ids": ids,
            }
            day.out.append(Outcome("statement.sent", data, subject_of(ids)))
        else:
            data = {
                "reminder_id": event_id,
                "step": step.name,
                "channel": "email",
                "language": debtor.contact.language,
                "invoice_ids": ids,
                "currency": currency,
                "amount_due": money(net, currency),
                "message_id": message_id,
            }
            day.out.append(Outcome("reminder.sent", data, subject_of(ids)))
