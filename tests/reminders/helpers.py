"""Builders for the reminders domain tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from softcollect_events import REGISTRY
from softcollect_reminders.domain import DEFAULT_POLICY, Contact, Debtor, OpenItem, Outcome, Policy, decide

DUE = date(2024, 6, 12)  # a Wednesday


def always(_: date) -> bool:
    return True


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def item(invoice_id: str = "INV-1", amount: str = "1000.00", due: date = DUE, **kw) -> OpenItem:
    return OpenItem(invoice_id=invoice_id, number=f"N-{invoice_id}", currency=kw.pop("currency", "EUR"),
                    due_date=due, open_amount=Decimal(amount), **kw)


def debtor(*items: OpenItem, email: bool = True, **contact) -> Debtor:
    d = Debtor("acme", "CUST-1", contact=Contact(has_email=email, language="en", **contact))
    for i in items:
        d.upsert_item(i)
    return d


def history(d: Debtor, key: str, up_to_day: int, policy: Policy = DEFAULT_POLICY) -> None:
    """Mark every step before `up_to_day` done, as if ticks had run daily."""
    d.steps_done[key] = [s.name for s in policy.steps if s.day < up_to_day]


def run(d: Debtor, on: date, policy: Policy = DEFAULT_POLICY, business=always) -> list[Outcome]:
    out = decide(d, on, policy, business)
    for o in out:
        REGISTRY[o.type].model.model_validate(o.data)
    return out


def of(out: list[Outcome], type_: str) -> list[Outcome]:
    return [o for o in out if o.type == type_]


def reasons(out: list[Outcome]) -> dict[str, str]:
    """step -> reason of the suppressions."""
    return {o.data["step"]: o.data["reason"] for o in of(out, "reminder.suppressed")}


def day(n: int) -> date:
    return DUE + timedelta(days=n)
