"""The per-debtor ledger: one per tenant and customer, every currency kept apart.

State only, plus the questions asked of it (totals, aging, conservation,
serialisation). The transitions that change it live in `cash`, `locks` and
`clock`; each of them records the business date through `see_date` first.

Facts kept once and derived where needed: holds and disputes are stored by
their own id (they may name an invoice that has not arrived yet) and an item's
`disputed_amount` / hold state are computed from them, so no payment, credit
or reversal can leave a stale copy behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from softcollect_events import Phase
from softcollect_runtime.tenants import AgingPolicy

from . import outcome
from .outcome import Outcome
from .phases import LIVE, days_past_due, next_phase_date

ZERO = Decimal(0)
PAYMENT = "payment"
CREDIT_NOTE = "credit_note"

ItemKey = tuple[str, int | None]  # (invoice_id, installment 1-based or None for a whole invoice)

BUCKETS = ("not_due", "d1_30", "d31_60", "d61_90", "d91_120", "over_120")


def bucket_of(days: int) -> str:
    """Aging bucket of an item `days` past due (DOMAIN.md §10)."""
    if days <= 0:
        return "not_due"
    for name, upper in (("d1_30", 30), ("d31_60", 60), ("d61_90", 90), ("d91_120", 120)):
        if days <= upper:
            return name
    return "over_120"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass
class Item:
    """An open item: a whole invoice, or one installment of it (each ages on its own)."""

    invoice_id: str
    installment: int | None
    number: str
    currency: str
    issue_date: date
    due_date: date
    amount: Decimal  # original
    open_amount: Decimal
    phase: Phase
    written_off: Decimal = ZERO  # part closed without money: tolerance or an agreed write-off
    covered_by_plan: str | None = None
    settled_on: date | None = None

    @property
    def key(self) -> ItemKey:
        return (self.invoice_id, self.installment)

    @property
    def is_open(self) -> bool:
        return self.phase in LIVE

    @property
    def age_order(self) -> tuple:
        """Oldest first: by due date, then issue date; ids only break ties, for determinism."""
        return (self.due_date, self.issue_date, self.invoice_id, self.installment or 0)


@dataclass
class Source:
    """Money of the debtor's: a payment or a credit note, and where it went. What
    is neither allocated nor reversed is on account (`on_account`); while
    `waiting_for` names references to invoices not known yet, that money is
    held for them and applied when they arrive."""

    kind: str  # PAYMENT or CREDIT_NOTE
    id: str
    currency: str
    amount: Decimal
    seq: int  # arrival order: waiting money is applied in it
    on_account: Decimal
    allocations: dict[ItemKey, Decimal] = field(default_factory=dict)
    written_off: dict[ItemKey, Decimal] = field(default_factory=dict)  # tolerance write-offs it caused
    waiting_for: list[str] = field(default_factory=list)
    reversed: bool = False


@dataclass
class Hold:
    hold_id: str
    scope: str  # "customer" | "invoice"
    invoice_id: str | None
    until: date | None  # last day of the hold, inclusive

    def active(self, business_date: date) -> bool:
        return self.until is None or business_date <= self.until


@dataclass
class Dispute:
    dispute_id: str
    invoice_id: str
    amount: Decimal | None  # None: the invoice's whole open amount


@dataclass
class Totals:
    """Running totals of one currency: the left side of the conservation law."""

    issued: Decimal = ZERO
    cancelled: Decimal = ZERO
    credited: Decimal = ZERO
    paid: Decimal = ZERO
    reversed: Decimal = ZERO
    written_off: Decimal = ZERO

    def owed(self) -> Decimal:
        return self.issued - self.cancelled - self.credited - (self.paid - self.reversed) - self.written_off


@dataclass(frozen=True)
class DebtorSummary:
    """What the tenant KPIs need of one debtor in one currency (see `kpis`)."""

    currency: str
    opening_ar: Decimal  # open amounts when the month of `as_of` began
    closing_ar: Decimal  # open amounts at `as_of`
    current_ar: Decimal  # of which not yet due
    overdue_ar: Decimal  # of which past due
    sales: dict[str, Decimal]  # "YYYY-MM" -> credit sales (invoices issued that month, net of cancellations)


@dataclass
class Ledger:
    tenantid: str | None = None
    customerid: str | None = None
    items: dict[ItemKey, Item] = field(default_factory=dict)
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)  # (kind, id)
    holds: dict[str, Hold] = field(default_factory=dict)
    disputes: dict[str, Dispute] = field(default_factory=dict)
    broken_plans: dict[str, list[str]] = field(default_factory=dict)  # plan_id -> invoice ids it covered
    totals: dict[str, Totals] = field(default_factory=dict)
    sales: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # currency -> month -> amount
    month: str | None = None  # month of last_business_date
    opening_ar: dict[str, Decimal] = field(default_factory=dict)  # open amounts when `month` began
    cancelled_early: set[str] = field(default_factory=set)  # invoices cancelled before they arrived
    reversed_early: set[str] = field(default_factory=set)  # payments reversed before they arrived
    credit_limit: Decimal | None = None
    credit_currency: str | None = None
    locked: bool = False
    lock_reason: str | None = None
    lock_currency: str | None = None
    last_business_date: date | None = None
    next_seq: int = 0

    # --- recording ---------------------------------------------------------

    def see_date(self, business_date: date) -> None:
        """Every transition starts here. The first one in a new month fixes the
        month's opening AR (the open amounts before it), which the CEI needs."""
        if self.last_business_date is not None and business_date <= self.last_business_date:
            return
        month = month_of(business_date)
        if month != self.month:
            self.opening_ar = {c: self.open_total(c) for c in self.currencies() if self.open_total(c)}
            self.month = month
        self.last_business_date = business_date

    def totals_for(self, currency: str) -> Totals:
        return self.totals.setdefault(currency, Totals())

    def add_sales(self, currency: str, issue_date: date, amount: Decimal) -> None:
        months = self.sales.setdefault(currency, {})
        months[month_of(issue_date)] = months.get(month_of(issue_date), ZERO) + amount

    def add_source(self, kind: str, id_: str, currency: str, amount: Decimal) -> Source:
        source = Source(kind, id_, currency, amount, self.next_seq, on_account=amount)
        self.next_seq += 1
        self.sources[(kind, id_)] = source
        return source

    # --- questions ---------------------------------------------------------

    def currencies(self) -> list[str]:
        found = {i.currency for i in self.items.values()} | {s.currency for s in self.sources.values()}
        return sorted(found | set(self.totals))

    def invoice_items(self, invoice_id: str) -> list[Item]:
        """The invoice's items, oldest installment first."""
        return sorted((i for i in self.items.values() if i.invoice_id == invoice_id),
                      key=lambda i: (i.due_date, i.installment or 0))

    def has_invoice(self, invoice_id: str) -> bool:
        return any(i.invoice_id == invoice_id for i in self.items.values())

    def invoice_currency(self, invoice_id: str) -> str | None:
        return next((i.currency for i in self.items.values() if i.invoice_id == invoice_id), None)

    def catalogue(self) -> list[tuple[str, str]]:
        """(invoice_id, number) of every invoice known, in any phase."""
        return list(dict.fromkeys((i.invoice_id, i.number) for i in self.items.values()))

    def open_items(self, currency: str | None = None) -> list[Item]:
        """Live items, oldest first."""
        found = [i for i in self.items.values() if i.is_open and (currency is None or i.currency == currency)]
        return sorted(found, key=lambda i: i.age_order)

    def open_total(self, currency: str) -> Decimal:
        return sum((i.open_amount for i in self.open_items(currency)), ZERO)

    def unapplied(self, currency: str) -> Decimal:
        """Unapplied cash and credits on account, including money held for invoices not arrived yet."""
        return sum((s.on_account for s in self.sources.values() if s.currency == currency and not s.reversed), ZERO)

    def money_on_account(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Per currency with any money of the debtor's: (unapplied cash, credits), what
        `unapplied` sums split by the source's kind (payments, credit notes)."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for s in self.sources.values():
            if s.reversed:
                continue
            cash, credits = out.get(s.currency, (ZERO, ZERO))
            out[s.currency] = (cash + s.on_account, credits) if s.kind == PAYMENT else (cash, credits + s.on_account)
        return out

    def on_account(self, currency: str) -> list[Source]:
        return [s for s in self.sources.values() if s.currency == currency and not s.reversed and s.on_account > 0]

    def disputed_by_item(self) -> dict[ItemKey, Decimal]:
        """Disputed part of each open item. A dispute's amount covers its invoice's
        items oldest installment first and never more than what is open, so a
        partial payment pays the undisputed part first."""
        claims: dict[str, Decimal | None] = {}
        for d in self.disputes.values():
            whole = d.amount is None or claims.get(d.invoice_id, ZERO) is None
            claims[d.invoice_id] = None if whole else claims.get(d.invoice_id, ZERO) + d.amount
        out: dict[ItemKey, Decimal] = {}
        for invoice_id, claim in claims.items():
            left = claim
            for item in self.invoice_items(invoice_id):
                if not item.is_open:
                    continue
                part = item.open_amount if left is None else min(left, item.open_amount)
                if part > 0:
                    out[item.key] = part
                if left is not None:
                    left -= part
        return out

    def disputed_amount(self, item: Item) -> Decimal:
        return self.disputed_by_item().get(item.key, ZERO)

    def holds_on(self, item: Item, business_date: date) -> list[str]:
        """Ids of the manual holds in force on the item: customer-wide ones and its invoice's."""
        return [h.hold_id for h in self.holds.values()
                if h.active(business_date) and (h.scope == "customer" or h.invoice_id == item.invoice_id)]

    def is_held(self, item: Item, business_date: date) -> bool:
        """On hold: a manual hold, or an active repayment plan (DOMAIN.md §8)."""
        return item.covered_by_plan is not None or bool(self.holds_on(item, business_date))

    def conservation(self, currency: str) -> tuple[Decimal, Decimal]:
        """Both sides of DOMAIN.md §5's law for one currency:
        issued − cancelled − credited − (paid − reversed) − written off,
        and Σ open amounts − unapplied cash and credits on account.

        They agree because every amount is counted exactly once: a cancelled
        invoice counts its whole amount as cancelled, and whatever had been
        applied to it returns to the account under its payment or credit note
        (its tolerance write-offs are undone); money held for an invoice not
        arrived yet is on account; a reversed payment counts in `reversed`."""
        return self.totals_for(currency).owed(), self.open_total(currency) - self.unapplied(currency)

    def snapshot(self, as_of: date) -> list[Outcome]:
        """`aging.snapshot` per currency with an open balance or money on account."""
        disputed = self.disputed_by_item()
        out = []
        for currency in self.currencies():
            items = self.open_items(currency)
            unapplied = self.unapplied(currency)
            if not items and not unapplied:
                continue
            buckets = dict.fromkeys(BUCKETS, ZERO)
            phases = dict.fromkeys((str(p) for p in LIVE), ZERO)
            for item in items:
                buckets[bucket_of(days_past_due(item.due_date, as_of))] += item.open_amount
                phases[str(item.phase)] += item.open_amount
            data = {
                "as_of": as_of.isoformat(),
                "currency": currency,
                "open_amount": outcome.money(sum((i.open_amount for i in items), ZERO), currency),
                "buckets": {k: outcome.money(v, currency) for k, v in buckets.items()},
                "phases": {k: outcome.money(v, currency) for k, v in phases.items()},
                "disputed": outcome.money(sum((disputed.get(i.key, ZERO) for i in items), ZERO), currency),
                "unapplied": outcome.money(unapplied, currency),
            }
            out.append(Outcome("aging.snapshot", data, None))
        return out

    def summary(self, as_of: date, currency: str) -> DebtorSummary:
        """This debtor's share of the tenant KPIs at `as_of` (meant for its last business date or later)."""
        items = self.open_items(currency)
        closing = sum((i.open_amount for i in items), ZERO)
        current = sum((i.open_amount for i in items if days_past_due(i.due_date, as_of) <= 0), ZERO)
        if month_of(as_of) == self.month:
            opening = self.opening_ar.get(currency, ZERO)
        else:
            # Later month: nothing happened in it yet, so the month opened at today's AR.
            # Earlier month (dates before the first tick): not kept; a replay recomputes it exactly.
            opening = closing
        return DebtorSummary(currency, opening, closing, current, closing - current,
                             dict(self.sales.get(currency, {})))

    def next_review(self, policy: AgingPolicy) -> date | None:
        """Earliest business date after the last one seen on which something may
        change by time alone: an item's phase, an item falling overdue or
        reaching the lock age (the lock rule), or a hold running out."""
        dates = []
        for item in self.open_items():
            dates.append(next_phase_date(item.due_date, item.phase, policy.phases))
            if not self.locked:  # passing time only makes the lock rules truer: a lock stays
                dates.append(item.due_date + timedelta(days=1))
                dates.append(item.due_date + timedelta(days=policy.lock_min_days_past_due))
        dates.extend(h.until + timedelta(days=1) for h in self.holds.values() if h.until is not None)
        last = self.last_business_date
        upcoming = [d for d in dates if d is not None and (last is None or d > last)]
        return min(upcoming, default=None)

    # --- serialisation -----------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe document (Decimals and dates as strings)."""
        return {
            "version": 1,
            "tenantid": self.tenantid,
            "customerid": self.customerid,
            "items": [_item_to_dict(i) for i in self.items.values()],
            "sources": [_source_to_dict(s) for s in self.sources.values()],
            "holds": [{"hold_id": h.hold_id, "scope": h.scope, "invoice_id": h.invoice_id, "until": _d(h.until)}
                      for h in self.holds.values()],
            "disputes": [{"dispute_id": d.dispute_id, "invoice_id": d.invoice_id, "amount": _n(d.amount)}
                         for d in self.disputes.values()],
            "broken_plans": {k: list(v) for k, v in self.broken_plans.items()},
            "totals": {c: {k: _n(v) for k, v in vars(t).items()} for c, t in self.totals.items()},
            "sales": {c: {m: _n(v) for m, v in months.items()} for c, months in self.sales.items()},
            "month": self.month,
            "opening_ar": {c: _n(v) for c, v in self.opening_ar.items()},
            "cancelled_early": sorted(self.cancelled_early),
            "reversed_early": sorted(self.reversed_early),
            "credit_limit": _n(self.credit_limit),
            "credit_currency": self.credit_currency,
            "locked": self.locked,
            "lock_reason": self.lock_reason,
            "lock_currency": self.lock_currency,
            "last_business_date": _d(self.last_business_date),
            "next_seq": self.next_seq,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ledger:
        if d.get("version") != 1:
            raise ValueError(f"unknown ledger document version {d.get('version')!r}")
        items = [_item_from_dict(x) for x in d["items"]]
        sources = [_source_from_dict(x) for x in d["sources"]]
        return cls(
            tenantid=d["tenantid"],
            customerid=d["customerid"],
            items={i.key: i for i in items},
            sources={(s.kind, s.id): s for s in sources},
            holds={h["hold_id"]: Hold(h["hold_id"], h["scope"], h["invoice_id"], _date(h["until"]))
                   for h in d["holds"]},
            disputes={x["dispute_id"]: Dispute(x["dispute_id"], x["invoice_id"], _dec(x["amount"]))
                      for x in d["disputes"]},
            broken_plans={k: list(v) for k, v in d["broken_plans"].items()},
            totals={c: Totals(**{k: Decimal(v) for k, v in t.items()}) for c, t in d["totals"].items()},
            sales={c: {m: Decimal(v) for m, v in months.items()} for c, months in d["sales"].items()},
            month=d["month"],
            opening_ar={c: Decimal(v) for c, v in d["opening_ar"].items()},
            cancelled_early=set(d["cancelled_early"]),
            reversed_early=set(d["reversed_early"]),
            credit_limit=_dec(d["credit_limit"]),
            credit_currency=d["credit_currency"],
            locked=d["locked"],
            lock_reason=d["lock_reason"],
            lock_currency=d["lock_currency"],
            last_business_date=_date(d["last_business_date"]),
            next_seq=d["next_seq"],
        )


def _n(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _d(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _item_to_dict(i: Item) -> dict[str, Any]:
    return {
        "invoice_id": i.invoice_id, "installment": i.installment, "number": i.number, "currency": i.currency,
        "issue_date": _d(i.issue_date), "due_date": _d(i.due_date), "amount": _n(i.amount),
        "open_amount": _n(i.open_amount), "phase": str(i.phase), "written_off": _n(i.written_off),
        "covered_by_plan": i.covered_by_plan, "settled_on": _d(i.settled_on),
    }


def _item_from_dict(x: dict[str, Any]) -> Item:
    return Item(
        invoice_id=x["invoice_id"], installment=x["installment"], number=x["number"], currency=x["currency"],
        issue_date=date.fromisoformat(x["issue_date"]), due_date=date.fromisoformat(x["due_date"]),
        amount=Decimal(x["amount"]), open_amount=Decimal(x["open_amount"]), phase=Phase(x["phase"]),
        written_off=Decimal(x["written_off"]), covered_by_plan=x["covered_by_plan"],
        settled_on=_date(x["settled_on"]),
    )


def _keyed(amounts: dict[ItemKey, Decimal]) -> list[list[Any]]:
    return [[invoice_id, installment, _n(amount)] for (invoice_id, installment), amount in amounts.items()]


def _unkeyed(rows: list[list[Any]]) -> dict[ItemKey, Decimal]:
    return {(invoice_id, installment): Decimal(amount) for invoice_id, installment, amount in rows}


def _source_to_dict(s: Source) -> dict[str, Any]:
    return {
        "kind": s.kind, "id": s.id, "currency": s.currency, "amount": _n(s.amount), "seq": s.seq,
        "on_account": _n(s.on_account), "allocations": _keyed(s.allocations), "written_off": _keyed(s.written_off),
        "waiting_for": list(s.waiting_for), "reversed": s.reversed,
    }


def _source_from_dict(x: dict[str, Any]) -> Source:
    return Source(
        kind=x["kind"], id=x["id"], currency=x["currency"], amount=Decimal(x["amount"]), seq=x["seq"],
        on_account=Decimal(x["on_account"]), allocations=_unkeyed(x["allocations"]),
        written_off=_unkeyed(x["written_off"]), waiting_for=list(x["waiting_for"]), reversed=x["reversed"],
    )
