"""What the reminders service knows of one debtor, learned from events
(receivables, payments, disputes, holds, promises, plans, deliveries,
customer data) and from its own decisions (steps done, last written contact).

Pure data with `to_dict`/`from_dict` (JSON-ready) for the service's store.
Contact data itself is never held: only whether a usable e-mail exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from softcollect_events import Phase

# Phases in which soft collection still acts on an item.
ACTIVE_PHASES = frozenset({Phase.upcoming, Phase.expiring, Phase.just_expired})

DeliveryState = Literal["delivered", "failed", "unknown"]
ZERO = Decimal(0)


def item_key(invoice_id: str, installment: int | None) -> str:
    return invoice_id if installment is None else f"{invoice_id}#{installment}"


def _d(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _s(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass
class OpenItem:
    """A receivable (an invoice or one installment) as aging reports it."""

    invoice_id: str
    number: str
    currency: str
    due_date: date
    open_amount: Decimal
    installment: int | None = None
    disputed_amount: Decimal = ZERO
    phase: str = Phase.expiring

    @property
    def key(self) -> str:
        return item_key(self.invoice_id, self.installment)

    @property
    def undisputed(self) -> Decimal:
        """The part that may be reminded (DOMAIN.md §4 `disputed`)."""
        return max(ZERO, self.open_amount - self.disputed_amount)

    @property
    def active(self) -> bool:
        return self.open_amount > 0 and self.phase in ACTIVE_PHASES

    def days_past_due(self, business_date: date) -> int:
        return (business_date - self.due_date).days

    def to_dict(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "installment": self.installment,
            "number": self.number,
            "currency": self.currency,
            "due_date": self.due_date.isoformat(),
            "open_amount": str(self.open_amount),
            "disputed_amount": str(self.disputed_amount),
            "phase": str(self.phase),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpenItem:
        return cls(
            invoice_id=d["invoice_id"],
            installment=d.get("installment"),
            number=d["number"],
            currency=d["currency"],
            due_date=date.fromisoformat(d["due_date"]),
            open_amount=Decimal(d["open_amount"]),
            disputed_amount=Decimal(d.get("disputed_amount", "0")),
            phase=d.get("phase", Phase.expiring),
        )


@dataclass
class Hold:
    """A manual hold: customer-wide when `invoice_id` is None; active through `until` (inclusive)."""

    hold_id: str
    invoice_id: str | None = None
    until: date | None = None

    def covers(self, invoice_id: str, business_date: date) -> bool:
        if self.until is not None and business_date > self.until:
            return False
        return self.invoice_id is None or self.invoice_id == invoice_id


@dataclass
class Delivery:
    """What the client reported about an invoice's delivery, and our last resubmission request."""

    status: DeliveryState = "unknown"
    last_resubmission: date | None = None


@dataclass
class Contact:
    """Contact facts without contact data: whether a usable e-mail exists, etc."""

    has_email: bool = False
    language: str = "it"
    country: str | None = None
    segment: str | None = None
    account_manager: str | None = None  # the account manager's id (key accounts' review tasks go to them)


@dataclass
class Notice:
    """The last deferral notice emitted for an item, so it is not repeated every tick."""

    step: str
    reason: str
    until: date | None


@dataclass
class Debtor:
    tenantid: str
    customerid: str
    items: dict[str, OpenItem] = field(default_factory=dict)
    credits: dict[str, Decimal] = field(default_factory=dict)  # open credit notes on account, per currency
    unapplied: dict[str, Decimal] = field(default_factory=dict)  # unapplied cash on account, per currency
    holds: dict[str, Hold] = field(default_factory=dict)
    promises: dict[str, date] = field(default_factory=dict)  # invoice_id -> promised date (one open promise)
    arrangements: dict[str, list[str]] = field(default_factory=dict)  # active plan/settlement id -> invoice ids
    deliveries: dict[str, Delivery] = field(default_factory=dict)  # invoice_id -> delivery
    contact: Contact = field(default_factory=Contact)
    risk_score: int = 0  # 0-100, from the disputes service's risk scoring
    last_written_contact: date | None = None
    steps_done: dict[str, list[str]] = field(default_factory=dict)  # item key -> steps done or suppressed
    notices: dict[str, Notice] = field(default_factory=dict)  # item key -> last deferral notice
    numbers: dict[str, str] = field(default_factory=dict)  # invoice_id -> the number the debtor knows
    disputes: dict[str, tuple[str, Decimal]] = field(default_factory=dict)  # open dispute id -> (invoice, amount)
    locked: bool = False  # aging locked the customer position

    @property
    def key(self) -> str:
        return f"{self.tenantid}:{self.customerid}"

    # --- small updates the service applies from events ---------------------

    def upsert_item(self, item: OpenItem) -> None:
        self.items[item.key] = item

    def delivery(self, invoice_id: str) -> Delivery:
        return self.deliveries.setdefault(invoice_id, Delivery())

    def done(self, key: str) -> list[str]:
        return self.steps_done.setdefault(key, [])

    def mark_done(self, key: str, step: str) -> None:
        done = self.done(key)
        if step not in done:
            done.append(step)
        self.notices.pop(key, None)

    # --- serialisation -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenantid": self.tenantid,
            "customerid": self.customerid,
            "items": [i.to_dict() for i in self.items.values()],
            "credits": {c: str(a) for c, a in self.credits.items()},
            "unapplied": {c: str(a) for c, a in self.unapplied.items()},
            "holds": [{"hold_id": h.hold_id, "invoice_id": h.invoice_id, "until": _s(h.until)}
                      for h in self.holds.values()],
            "promises": {inv: d.isoformat() for inv, d in self.promises.items()},
            "arrangements": {k: list(v) for k, v in self.arrangements.items()},
            "deliveries": {inv: {"status": d.status, "last_resubmission": _s(d.last_resubmission)}
                           for inv, d in self.deliveries.items()},
            "contact": {
                "has_email": self.contact.has_email,
                "language": self.contact.language,
                "country": self.contact.country,
                "segment": self.contact.segment,
                "account_manager": self.contact.account_manager,
            },
            "risk_score": self.risk_score,
            "last_written_contact": _s(self.last_written_contact),
            "steps_done": {k: list(v) for k, v in self.steps_done.items()},
            "notices": {k: {"step": n.step, "reason": n.reason, "until": _s(n.until)} for k, n in self.notices.items()},
            "numbers": dict(self.numbers),
            "disputes": {k: [inv, str(amount)] for k, (inv, amount) in self.disputes.items()},
            "locked": self.locked,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Debtor:
        items = [OpenItem.from_dict(i) for i in d.get("items", [])]
        return cls(
            tenantid=d["tenantid"],
            customerid=d["customerid"],
            items={i.key: i for i in items},
            credits={c: Decimal(a) for c, a in d.get("credits", {}).items()},
            unapplied={c: Decimal(a) for c, a in d.get("unapplied", {}).items()},
            holds={h["hold_id"]: Hold(h["hold_id"], h.get("invoice_id"), _d(h.get("until")))
                   for h in d.get("holds", [])},
            promises={inv: date.fromisoformat(v) for inv, v in d.get("promises", {}).items()},
            arrangements={k: list(v) for k, v in d.get("arrangements", {}).items()},
            deliveries={inv: Delivery(v.get("status", "unknown"), _d(v.get("last_resubmission")))
                        for inv, v in d.get("deliveries", {}).items()},
            contact=Contact(**d.get("contact", {})),
            risk_score=d.get("risk_score", 0),
            last_written_contact=_d(d.get("last_written_contact")),
            steps_done={k: list(v) for k, v in d.get("steps_done", {}).items()},
            notices={k: Notice(n["step"], n["reason"], _d(n.get("until"))) for k, n in d.get("notices", {}).items()},
            numbers=dict(d.get("numbers", {})),
            disputes={k: (inv, Decimal(a)) for k, (inv, a) in d.get("disputes", {}).items()},
            locked=d.get("locked", False),
        )
