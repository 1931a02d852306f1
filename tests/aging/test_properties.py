"""Property-based tests of the ledger (hypothesis).

1. Any sequence of invoices (with and without installments), credit notes,
   payments (references, remittances with typos, plain amounts), reversals,
   cancellations, disputes, holds, plans and ticks, with duplicated events and
   any delivery order: after EVERY step the conservation law holds for every
   currency, no open amount is negative or above its original, every outcome
   validates against its registry model, locks and unlocks alternate, and the
   ledger survives its JSON document unchanged.

2. Balances can be followed from the outcomes alone: driving the same histories
   through the service's `apply` (the tick as its handler runs it), folding
   `receivable.opened` and the latest `receivable.balance_changed` per item, and
   the latest `customer.on_account_changed` per currency, gives after EVERY step
   the ledger's open amount of every item and its unapplied cash and credits per
   currency; no such event repeats the value it replaces, and ticks emit none.

3. Delivery order does not matter where the spec defines a unique outcome.
   Cash application is order-dependent by design (rules 2-5 look at what is
   open when the money arrives, tolerance looks at the open amount then, and a
   reversal reopens what its payment hit, which depends on what came before),
   so the property is restricted to the fragment where each piece of money
   names its target: invoices (with or without installments), cancellations,
   credit notes for an invoice (known, late or never arriving) or for none,
   and payments naming exactly one invoice by id or number; tolerance 0,
   unmatched cash on account, one business date. There every item is filled
   oldest installment first by whatever names its invoice, which commutes.
   "Same final ledger" means: per item its open amount, phase, write-off and
   settlement date; per currency the money on account and the six running
   totals; and the lock state.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softcollect_aging.domain import (
    CREDIT_NOTE,
    PAYMENT,
    Ledger,
    cancel_invoice,
    close_dispute,
    cover_by_plan,
    evaluate_lock,
    issue_credit_note,
    issue_invoice,
    open_dispute,
    place_hold,
    receive_payment,
    release_hold,
    release_plan,
    reverse_payment,
    tick,
    write_off,
)
from softcollect_aging.handlers import apply
from softcollect_runtime.tenants import AgingPolicy
from tests.aging.helpers import (
    TODAY,
    cancellation,
    check_conservation,
    credit_note,
    hold,
    hold_released,
    invoice,
    payment,
    reversal,
    validate,
)

SETTINGS = settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CURRENCIES = ("EUR", "USD")
INVOICE_IDS = [f"I{n}" for n in range(1, 6)]
NEVER_ISSUED = "I9"


def number_of(invoice_id: str) -> str:
    return f"2026/10{invoice_id[1:]}"


NICE = ["100.00", "50.00", "99.50", "150.00", "200.00", "0.30", "250.00", "1234.56"]
amounts = st.one_of(st.sampled_from(NICE),
                    st.integers(1, 150_000).map(lambda cents: str(Decimal(cents).scaleb(-2))))


@st.composite
def invoices(draw, invoice_id: str, currency=None):
    currency = currency or draw(st.sampled_from(CURRENCIES))
    due = TODAY + timedelta(days=draw(st.integers(-70, 60)))
    parts = draw(st.lists(amounts, min_size=1, max_size=3))
    issue = due - timedelta(days=draw(st.integers(0, 40)))
    if len(parts) == 1 and draw(st.booleans()):
        return invoice(invoice_id, parts[0], due, number=number_of(invoice_id), issue=issue, currency=currency)
    dues = [due - timedelta(days=30 * (len(parts) - 1 - n)) for n in range(len(parts))]
    issue = min(issue, dues[0])
    total = str(sum((Decimal(p) for p in parts), Decimal(0)))
    return invoice(invoice_id, total, dues[-1], number=number_of(invoice_id), issue=issue, currency=currency,
                   installments=list(zip(dues, parts, strict=True)))


def typo(ref: str, how: int) -> str:
    return [ref, ref.replace("0", "O"), ref.replace("/", "-"), f"n.{ref}", ref + "1"][how]


@st.composite
def payments(draw, payment_id: str, owed: list[Decimal]):
    """Payments naming invoices in every way, or none; amounts often near what is owed so the
    amount rules (exact, combination, tolerance) get their chance."""
    ref_kind = draw(st.sampled_from(["none", "none", "id", "number", "unknown", "remittance", "both"]))
    target = draw(st.sampled_from([*INVOICE_IDS, NEVER_ISSUED]))
    refs, remittance = None, None
    if ref_kind == "id":
        refs = [target]
    elif ref_kind == "number":
        refs = [number_of(target)]
    elif ref_kind == "unknown":
        refs = ["2026/999"]
    elif ref_kind == "remittance":
        remittance = f"saldo fattura {typo(number_of(target), draw(st.integers(0, 4)))} grazie"
    elif ref_kind == "both":
        refs = [target, draw(st.sampled_from(INVOICE_IDS))]
    near = st.sampled_from(owed).flatmap(
        lambda a: st.sampled_from([a, a - Decimal("0.40"), a + Decimal("0.40"), a * 2]).filter(lambda x: x > 0))
    amount = draw(st.one_of(amounts, near.map(str)))
    return payment(payment_id, amount, refs=refs, remittance=remittance,
                   currency=draw(st.sampled_from(("EUR", "EUR", "USD"))))


def step(ledger: Ledger, event: tuple, on, policy: AgingPolicy):
    kind, *args = event
    fn = {
        "invoice": issue_invoice, "cancel": cancel_invoice, "credit": issue_credit_note,
        "pay": receive_payment, "reverse": reverse_payment, "hold": place_hold, "release": release_hold,
    }.get(kind)
    if fn is not None:
        return fn(ledger, args[0], on, policy)
    if kind == "tick":
        return tick(ledger, on, policy)
    if kind == "dispute":
        return open_dispute(ledger, args[0], args[1], args[2], on, policy)
    if kind == "undispute":
        return close_dispute(ledger, args[0], on, policy)
    if kind == "plan":
        return cover_by_plan(ledger, args[0], args[1], on, policy)
    if kind == "plan_end":
        return release_plan(ledger, args[0], args[1], on, policy)
    if kind == "write_off":
        return write_off(ledger, args[0], on, policy)
    raise AssertionError(kind)


@st.composite
def histories(draw):
    events = [("invoice", draw(invoices(i))) for i in INVOICE_IDS[:draw(st.integers(1, 5))]]
    owed = [e[1].amount for e in events] + [i.amount for e in events for i in e[1].installments or []]
    events += [("pay", draw(payments(f"P{n}", owed))) for n in range(draw(st.integers(0, 6)))]
    for n in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from([*INVOICE_IDS, NEVER_ISSUED, None]))
        events.append(("credit", credit_note(f"C{n}", draw(amounts), target,
                                             currency=draw(st.sampled_from(CURRENCIES)))))
    pay_ids = [e[1].payment_id for e in events if e[0] == "pay"]
    events += [("reverse", reversal(p)) for p in draw(st.lists(st.sampled_from(pay_ids or ["P0"]), max_size=2))]
    events += [("cancel", cancellation(i)) for i in draw(st.lists(st.sampled_from(INVOICE_IDS), max_size=2))]
    events += [("tick",) for _ in range(draw(st.integers(0, 4)))]
    events += draw(st.lists(st.sampled_from([
        ("dispute", "I1", "D1", Decimal("40.00")), ("dispute", "I2", "D2", None), ("undispute", "D1"),
        ("hold", hold("H1", "I3")), ("hold", hold("H2", until=TODAY + timedelta(days=10))),
        ("release", hold_released("H1")), ("plan", "PL1", ["I1", "I2"]), ("plan_end", "PL1", True),
        ("plan_end", "PL1", False), ("write_off", ["I4"]),
    ]), max_size=4))
    order = draw(st.permutations(events))
    duplicates = draw(st.lists(st.sampled_from(events), max_size=4))
    for dup in duplicates:
        order.insert(draw(st.integers(0, len(order))), dup)
    return order


@SETTINGS
@given(histories(), st.sampled_from(["on_account", "oldest_first"]), st.lists(st.integers(1, 20), max_size=30))
def test_every_step_keeps_the_books(events, unmatched_cash, jumps):
    policy = AgingPolicy(unmatched_cash=unmatched_cash)
    ledger = Ledger("acme", "c1")
    on = TODAY
    locked = False
    for n, event in enumerate(events):
        if event[0] == "tick":
            on += timedelta(days=jumps[n % len(jumps)] if jumps else 7)
        out = step(ledger, event, on, policy)
        out += evaluate_lock(ledger, on, policy)
        validate(out)
        for o in out:
            if o.type in ("customer.locked", "customer.unlocked"):
                assert (o.type == "customer.locked") != locked, "a lock event repeated"
                locked = o.type == "customer.locked"
        assert ledger.locked == locked
        check_conservation(ledger)
        for source in ledger.sources.values():
            assert source.on_account >= 0
        assert Ledger.from_dict(json.loads(json.dumps(ledger.to_dict()))) == ledger
    validate(ledger.snapshot(on))


# --- following balances from the outcomes ---------------------------------------


def as_event(event: tuple) -> tuple[str, object]:
    """A history step as the (type, data) the service's `apply` takes."""
    kind, *args = event
    ns = SimpleNamespace
    return {
        "invoice": lambda: ("invoice.issued", args[0]),
        "cancel": lambda: ("invoice.cancelled", args[0]),
        "credit": lambda: ("credit_note.issued", args[0]),
        "pay": lambda: ("payment.received", args[0]),
        "reverse": lambda: ("payment.reversed", args[0]),
        "hold": lambda: ("hold.placed", args[0]),
        "release": lambda: ("hold.released", args[0]),
        "dispute": lambda: ("dispute.opened", ns(invoice_id=args[0], dispute_id=args[1], amount=args[2])),
        "undispute": lambda: ("dispute.closed", ns(dispute_id=args[0])),
        "plan": lambda: ("plan.activated", ns(plan_id=args[0], invoice_ids=args[1])),
        "plan_end": lambda: ("plan.broken" if args[1] else "plan.completed", ns(plan_id=args[0])),
        "write_off": lambda: ("settlement.completed", ns(invoice_ids=args[0])),
    }[kind]()


def _nonzero(figures: dict) -> dict:
    """Without the zeros: an item never opened, or a currency never on account, reads as 0."""
    return {k: v for k, v in figures.items() if v not in (0, (0, 0))}


@SETTINGS
@given(histories(), st.sampled_from(["on_account", "oldest_first"]), st.lists(st.integers(1, 20), max_size=30))
def test_balances_can_be_followed_from_the_outcomes_alone(events, unmatched_cash, jumps):
    policy = AgingPolicy(unmatched_cash=unmatched_cash)
    ledger = Ledger("acme", "c1")
    on = TODAY
    items: dict[tuple, Decimal] = {}  # (invoice_id, installment) -> open amount, as a consumer folds it
    money: dict[str, tuple[Decimal, Decimal]] = {}  # currency -> (unapplied cash, credits)
    for n, event in enumerate(events):
        if event[0] == "tick":
            on += timedelta(days=jumps[n % len(jumps)] if jumps else 7)
            out = tick(ledger, on, policy) + evaluate_lock(ledger, on, policy)
            cause = "clock.tick"
        else:
            cause, data = as_event(event)
            out = apply(ledger, cause, data, on, policy)
        validate(out)
        for o in out:
            d = o.data
            if o.type in ("receivable.opened", "receivable.balance_changed"):
                key = (d["invoice_id"], d.get("installment"))
                amount = Decimal(d["open_amount"])
                if o.type == "receivable.opened":
                    assert key not in items, "opened twice"
                else:
                    assert key in items, "a balance change before the opening"
                    assert items[key] != amount, "a balance change that changes nothing"
                    assert d["cause"] == cause and d["currency"] == ledger.items[key].currency
                items[key] = amount
            elif o.type == "customer.on_account_changed":
                assert cause != "clock.tick"
                figures = (Decimal(d["unapplied_cash"]), Decimal(d["credits"]))
                assert money.get(d["currency"], (0, 0)) != figures, "an on-account change that changes nothing"
                assert d["cause"] == cause
                money[d["currency"]] = figures
        if cause == "clock.tick":
            assert not {"receivable.balance_changed", "customer.on_account_changed"} & {o.type for o in out}
        # what the ledger says, computed here independently of the service's snapshot
        assert _nonzero(items) == _nonzero({k: i.open_amount for k, i in ledger.items.items()})
        truth = {}
        for currency in ledger.currencies():
            live = [s for s in ledger.sources.values() if s.currency == currency and not s.reversed]
            cash = sum((s.on_account for s in live if s.kind == PAYMENT), Decimal(0))
            credits = sum((s.on_account for s in live if s.kind == CREDIT_NOTE), Decimal(0))
            assert cash + credits == ledger.unapplied(currency)
            truth[currency] = (cash, credits)
        assert _nonzero(money) == _nonzero(truth)
        check_conservation(ledger)


# --- delivery order ----------------------------------------------------------


@st.composite
def targeted(draw):
    """A fragment where every piece of money names its target (see the module doc)."""
    catalogue = []
    currency_of = {}
    for invoice_id in INVOICE_IDS[:draw(st.integers(1, 4))]:
        inv = draw(invoices(invoice_id))
        currency_of[invoice_id] = inv.currency
        catalogue.append(("invoice", inv))
    targets = [*currency_of, NEVER_ISSUED]
    for n in range(draw(st.integers(0, 5))):
        target = draw(st.sampled_from(targets))
        ref = target if draw(st.booleans()) else number_of(target)
        currency = currency_of.get(target) or draw(st.sampled_from(CURRENCIES))
        catalogue.append(("pay", payment(f"P{n}", draw(amounts), refs=[ref], currency=currency)))
    for n in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from([*targets, None]))
        currency = draw(st.sampled_from(CURRENCIES))
        catalogue.append(("credit", credit_note(f"C{n}", draw(amounts), target, currency=currency)))
    catalogue += [("cancel", cancellation(i)) for i in draw(st.lists(st.sampled_from(list(currency_of)),
                                                                     max_size=2, unique=True))]
    return catalogue


def delivered(draw, catalogue):
    order = draw(st.permutations(catalogue))
    for dup in draw(st.lists(st.sampled_from(catalogue), max_size=3)):
        order.insert(draw(st.integers(0, len(order))), dup)
    return order


def final_state(events) -> tuple:
    policy = AgingPolicy(payment_tolerance=Decimal(0))
    ledger = Ledger("acme", "c1")
    for event in events:
        validate(step(ledger, event, TODAY, policy) + evaluate_lock(ledger, TODAY, policy))
        check_conservation(ledger)
    items = {k: (i.open_amount, i.phase, i.written_off, i.settled_on) for k, i in ledger.items.items()}
    money = {c: (ledger.unapplied(c), ledger.totals_for(c)) for c in ledger.currencies()}
    return items, money, ledger.locked


@SETTINGS
@given(st.data())
def test_delivery_order_does_not_matter_where_each_payment_names_its_invoice(data):
    catalogue = data.draw(targeted())
    first = final_state(delivered(data.draw, catalogue))
    second = final_state(delivered(data.draw, catalogue))
    assert first == second
