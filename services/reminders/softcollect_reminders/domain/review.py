"""When a debtor next needs a decision, and whether a decided message still holds when it
is about to be sent.

`next_review`: the first business date on which one of the debtor's active items reaches a
step it has not done — the tick reads only the debtors whose date has come, so a tick costs
in proportion to the debtors with something to do, not to the portfolio.

`confirm`: a written message is decided on the tick and sent by the mail sender shortly
after. Anything that arrived in between (a payment, a credit note, a dispute, a promise, a
plan, a hold) is effective at once (DOMAIN.md §4): the message is rebuilt from the view as
it is now — open amounts, blocks, money on account — and goes out only if it still passes
every rule; otherwise it becomes a `reminder.suppressed` with the rule that now stops it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from softcollect_events import SuppressionReason

from .debtor import ZERO, Debtor, OpenItem
from .decide import _Day, _invoice_ids, _order
from .outcome import Outcome, money, subject_of
from .policy import Policy

R = SuppressionReason
WRITTEN_TYPES = frozenset({"reminder.sent", "statement.sent"})


def next_review(debtor: Debtor, policy: Policy) -> date | None:
    """The earliest day an active item reaches a step not yet done (None: nothing ahead)."""
    first: date | None = None
    for item in debtor.items.values():
        if not item.active:
            continue
        done = debtor.steps_done.get(item.key, ())
        for step in policy.steps:
            if step.name not in done:
                day = item.due_date + timedelta(days=step.day)
                if first is None or day < first:
                    first = day
                break
    return first


def confirm(debtor: Debtor, step: str, planned: list[Outcome], today: date,
            policy: Policy) -> tuple[list[Outcome], list[Outcome]]:
    """(still to send, now suppressed) for the per-currency outcomes of one decided message."""
    day = _Day(debtor, today, policy)
    active = sorted((i for i in debtor.items.values() if i.active), key=_order)
    blocks = {i.key: day.item_block(i) for i in active}
    eligible = [i for i in active if blocks[i.key] is None]
    send: list[Outcome] = []
    dropped: list[Outcome] = []
    for out in planned:
        data = dict(out.data)
        currency = data["currency"]
        wanted = set(data["invoice_ids"])
        triggers = [i for i in eligible if i.invoice_id in wanted]
        if not triggers:
            dropped.append(_suppressed(step, data["invoice_ids"], _why_gone(debtor, wanted, blocks)))
            continue
        listed = day.listing(currency, triggers, eligible)
        reason, _gross, net = day.money_block(currency, listed)
        if reason is not None:
            dropped.append(_suppressed(step, data["invoice_ids"], reason))
            continue
        ids = _invoice_ids(listed)
        data["invoice_ids"] = ids
        data["amount_due" if out.type == "reminder.sent" else "open_amount"] = money(net, currency)
        send.append(Outcome(out.type, data, subject_of(ids)))
    return send, dropped


def _why_gone(debtor: Debtor, wanted: set[str], blocks: dict[str, R | None]) -> R:
    """The rule that now stops every item a message was for: the first item-level block found,
    else nothing is open any more (`below_minimum`: nothing left to ask for)."""
    for item in sorted(debtor.items.values(), key=_order):
        if item.invoice_id in wanted and blocks.get(item.key) is not None:
            return blocks[item.key]  # type: ignore[return-value]
    return R.below_minimum


def _suppressed(step: str, invoice_ids: list[str], reason: R) -> Outcome:
    data = {"step": step, "invoice_ids": list(invoice_ids), "reason": str(reason)}
    return Outcome("reminder.suppressed", data, subject_of(list(invoice_ids)))


def lines_of(debtor: Debtor, invoice_ids: list[str], currency: str) -> list[OpenItem]:
    """The open items a confirmed message lists, in due order."""
    wanted = set(invoice_ids)
    return sorted((i for i in debtor.items.values()
                   if i.invoice_id in wanted and i.currency == currency and i.active), key=_order)


def on_account(debtor: Debtor, currency: str) -> tuple[Decimal, Decimal]:
    """(open credits, unapplied cash) on the debtor's account in `currency`."""
    return debtor.credits.get(currency, ZERO), debtor.unapplied.get(currency, ZERO)
