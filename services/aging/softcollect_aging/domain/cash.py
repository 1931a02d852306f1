"""Invoices, credit notes, payments and reversals: the transitions that move
money on the ledger (DOMAIN.md §5).

Every function takes the ledger, the event's data, the business date and the
tenant's aging policy, mutates the ledger and returns the outcomes. Each is
idempotent on the business id it carries (a repeated invoice, payment, credit
note, cancellation or reversal changes nothing), and events about a thing not
arrived yet wait for it: a payment naming an unknown invoice, a credit note for
one, a cancellation of one, a reversal of an unknown payment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from softcollect_events import (
    ApplicationMethod,
    CreditNoteIssued,
    InvoiceCancelled,
    InvoiceIssued,
    PaymentReceived,
    PaymentReversed,
    Phase,
)
from softcollect_runtime.tenants import AgingPolicy

from . import outcome
from .ledger import CREDIT_NOTE, PAYMENT, ZERO, Item, Ledger, Source
from .matching import Catalogue, find_in_remittance, normalize_ref, oldest_combination, resolve_refs
from .outcome import Outcome
from .phases import days_past_due, handover_reason, phase_for

NO_MATCH = ("no reference, no unique open amount, no exact combination of the oldest items, "
            "no candidate within tolerance")


# --- invoices ----------------------------------------------------------------


def issue_invoice(ledger: Ledger, invoice: InvoiceIssued, business_date: date, policy: AgingPolicy) -> list[Outcome]:
    """Open one item per invoice, or per installment; then apply whatever waited for it."""
    ledger.see_date(business_date)
    if ledger.has_invoice(invoice.invoice_id):
        return []
    parts = [(None, invoice.due_date, invoice.amount)]
    if invoice.installments:
        parts = [(n, i.due_date, i.amount) for n, i in enumerate(invoice.installments, start=1)]
    ledger.totals_for(invoice.currency).issued += invoice.amount
    ledger.add_sales(invoice.currency, invoice.issue_date, invoice.amount)
    cancelled = invoice.invoice_id in ledger.cancelled_early
    out: list[Outcome] = []
    for installment, due_date, amount in parts:
        days = days_past_due(due_date, business_date)
        item = Item(invoice.invoice_id, installment, invoice.number, invoice.currency, invoice.issue_date,
                    due_date, amount, open_amount=amount, phase=phase_for(days, policy.phases))
        ledger.items[item.key] = item
        if cancelled:  # its cancellation came first: it never opens
            _cancel_item(ledger, item)
            continue
        out.append(outcome.receivable_opened(item))
        if item.phase == Phase.handed_over:
            out.append(outcome.receivable_handed_over(item, days, handover_reason(policy.phases)))
    if cancelled:
        ledger.cancelled_early.discard(invoice.invoice_id)
        ledger.add_sales(invoice.currency, invoice.issue_date, -invoice.amount)
    out.extend(_apply_waiting(ledger, invoice, business_date))
    return out


def cancel_invoice(ledger: Ledger, cancellation: InvoiceCancelled, business_date: date,
                   policy: AgingPolicy) -> list[Outcome]:
    """The invoice is void: its items go to `cancelled`, whatever was applied to
    them returns to the account (see `Ledger.conservation`)."""
    ledger.see_date(business_date)
    items = ledger.invoice_items(cancellation.invoice_id)
    if not items:
        ledger.cancelled_early.add(cancellation.invoice_id)
        return []
    out = []
    for item in items:
        if item.phase == Phase.cancelled:
            continue
        before = item.phase
        _cancel_item(ledger, item)
        out.append(outcome.phase_changed(item, before, days_past_due(item.due_date, business_date)))
    if out:
        ledger.add_sales(items[0].currency, items[0].issue_date, -sum((i.amount for i in items), ZERO))
    return out


def _cancel_item(ledger: Ledger, item: Item) -> None:
    for source in ledger.sources.values():
        source.on_account += source.allocations.pop(item.key, ZERO)
        source.written_off.pop(item.key, None)
    totals = ledger.totals_for(item.currency)
    totals.written_off -= item.written_off
    totals.cancelled += item.amount
    item.written_off = ZERO
    item.open_amount = ZERO
    item.phase = Phase.cancelled
    item.settled_on = None
    item.covered_by_plan = None


def write_off(ledger: Ledger, invoice_ids: Iterable[str], business_date: date, policy: AgingPolicy) -> list[Outcome]:
    """Write off what is still open on the invoices (e.g. the rest after a completed settlement)."""
    ledger.see_date(business_date)
    out = []
    for invoice_id in invoice_ids:
        for item in ledger.invoice_items(invoice_id):
            if not item.is_open:
                continue
            before = item.phase
            ledger.totals_for(item.currency).written_off += item.open_amount
            item.written_off += item.open_amount
            item.open_amount = ZERO
            item.phase = Phase.written_off
            out.append(outcome.phase_changed(item, before, days_past_due(item.due_date, business_date)))
    return out


# --- credit notes ------------------------------------------------------------


def issue_credit_note(ledger: Ledger, note: CreditNoteIssued, business_date: date,
                      policy: AgingPolicy) -> list[Outcome]:
    """Reduce its invoice's open items, oldest installment first; the rest (or all
    of it, without an invoice or in another currency) sits on account."""
    ledger.see_date(business_date)
    if (CREDIT_NOTE, note.credit_note_id) in ledger.sources:
        return []
    ledger.totals_for(note.currency).credited += note.amount
    source = ledger.add_source(CREDIT_NOTE, note.credit_note_id, note.currency, note.amount)
    if note.invoice_id is None:
        return []
    if not ledger.has_invoice(note.invoice_id):
        source.waiting_for = [note.invoice_id]
        return []
    if ledger.invoice_currency(note.invoice_id) != note.currency:
        return []
    items = [i for i in ledger.invoice_items(note.invoice_id) if i.is_open]
    applied = _fill(source, items)
    return _settle([i for i, _ in applied], business_date)


# --- payments ----------------------------------------------------------------


def receive_payment(ledger: Ledger, payment: PaymentReceived, business_date: date,
                    policy: AgingPolicy) -> list[Outcome]:
    """Cash application in DOMAIN.md §5's order.

    A payment that names a known invoice is applied by reference (rule 1, or
    rule 4 when it falls short by no more than the tolerance) and never by
    amount: when the invoices it names have nothing open, or are all in another
    currency, it goes to rule 5 (a payer who names an invoice did not mean
    another one that happens to have the amount). References to invoices not
    known yet hold the rest of the money for them. Only a payment that names
    no invoice at all is matched by amount (rules 2-4); what nothing matches
    stays on account (rule 5)."""
    ledger.see_date(business_date)
    if (PAYMENT, payment.payment_id) in ledger.sources:
        return []
    ledger.totals_for(payment.currency).paid += payment.amount
    source = ledger.add_source(PAYMENT, payment.payment_id, payment.currency, payment.amount)
    if payment.payment_id in ledger.reversed_early:  # its reversal came first: it never counts
        ledger.reversed_early.discard(payment.payment_id)
        _reverse(ledger, source)
        return []
    catalogue = Catalogue(ledger.catalogue())
    named, unknown = resolve_refs(payment.invoice_refs or [], catalogue)
    if payment.remittance:
        named += [i for i in find_in_remittance(payment.remittance, catalogue) if i not in named]
    same_currency = [i for i in named if ledger.invoice_currency(i) == payment.currency]  # never across currencies
    source.waiting_for = unknown
    if same_currency:
        return _by_reference(ledger, source, same_currency, business_date, policy)
    if unknown:
        return [_unmatched(source, f"held for {len(unknown)} referenced invoice(s) not received yet")]
    if named:
        return _fallback(ledger, source, "referenced invoices are in another currency", business_date, policy)
    return _by_amount(ledger, source, business_date, policy)


def _by_reference(ledger: Ledger, source: Source, named: list[str], business_date: date,
                  policy: AgingPolicy) -> list[Outcome]:
    items = [i for invoice_id in named for i in ledger.invoice_items(invoice_id) if i.is_open]
    if not items:
        if source.waiting_for:
            return [_unmatched(source, "referenced invoices have nothing open; held for the ones not received yet")]
        return _fallback(ledger, source, "referenced invoices have nothing open", business_date, policy)
    shortfall = sum((i.open_amount for i in items), ZERO) - source.amount
    if not source.waiting_for and 0 < shortfall <= policy.payment_tolerance:
        return _apply(ledger, source, items, ApplicationMethod.tolerance, business_date, write_off_rest=True)
    return _apply(ledger, source, items, ApplicationMethod.reference, business_date)


def _by_amount(ledger: Ledger, source: Source, business_date: date, policy: AgingPolicy) -> list[Outcome]:
    items = ledger.open_items(source.currency)
    exact = [i for i in items if i.open_amount == source.amount]
    if len(exact) == 1:
        return _apply(ledger, source, exact, ApplicationMethod.exact_amount, business_date)
    combination = oldest_combination(items, source.amount)
    if combination:
        return _apply(ledger, source, combination, ApplicationMethod.combination, business_date)
    near = [i for i in items if 0 < abs(i.open_amount - source.amount) <= policy.payment_tolerance]
    if len(near) == 1:  # short: the difference is written off; over: the excess stays on account
        return _apply(ledger, source, near, ApplicationMethod.tolerance, business_date, write_off_rest=True)
    return _fallback(ledger, source, NO_MATCH, business_date, policy)


def _fallback(ledger: Ledger, source: Source, reason: str, business_date: date,
              policy: AgingPolicy) -> list[Outcome]:
    """Rule 5: on account, or with the tenant option applied to the oldest items."""
    items = ledger.open_items(source.currency)
    if policy.unmatched_cash == "oldest_first" and items:
        return _apply(ledger, source, items, ApplicationMethod.oldest_first, business_date)
    return [_unmatched(source, reason)]


def _apply(ledger: Ledger, source: Source, items: Sequence[Item], method: ApplicationMethod, business_date: date,
           *, write_off_rest: bool = False) -> list[Outcome]:
    applied = _fill(source, items)
    written = ZERO
    if write_off_rest:
        written = _write_off_rest(ledger, source, items)
    return [
        outcome.payment_applied(source.id, source.currency, applied, source.on_account, str(method), written or None),
        *_settle(items, business_date),
    ]


def _unmatched(source: Source, reason: str) -> Outcome:
    return outcome.payment_unmatched(source.id, source.currency, source.amount, reason)


def _fill(source: Source, items: Iterable[Item]) -> list[tuple[Item, Decimal]]:
    """Apply the source's money on account to the items in order, each up to its open amount."""
    applied = []
    for item in items:
        take = min(item.open_amount, source.on_account)
        if take <= 0:
            continue
        item.open_amount -= take
        source.on_account -= take
        source.allocations[item.key] = source.allocations.get(item.key, ZERO) + take
        applied.append((item, take))
    return applied


def _write_off_rest(ledger: Ledger, source: Source, items: Iterable[Item]) -> Decimal:
    total = ZERO
    for item in items:
        rest = item.open_amount
        if rest <= 0:
            continue
        item.open_amount = ZERO
        item.written_off += rest
        source.written_off[item.key] = source.written_off.get(item.key, ZERO) + rest
        ledger.totals_for(item.currency).written_off += rest
        total += rest
    return total


def _settle(items: Iterable[Item], business_date: date) -> list[Outcome]:
    """Items brought to zero: `receivable.settled` and the move to `settled`."""
    out = []
    for item in items:
        if item.is_open and item.open_amount == 0:
            before = item.phase
            item.phase = Phase.settled
            item.settled_on = business_date
            out.append(outcome.receivable_settled(item, business_date))
            out.append(outcome.phase_changed(item, before, days_past_due(item.due_date, business_date)))
    return out


def _apply_waiting(ledger: Ledger, invoice: InvoiceIssued, business_date: date) -> list[Outcome]:
    """Payments and credit notes that named this invoice before it arrived, in arrival order."""
    names = {normalize_ref(invoice.invoice_id), normalize_ref(invoice.number)}
    out: list[Outcome] = []
    waiting = sorted((s for s in ledger.sources.values() if s.waiting_for and not s.reversed), key=lambda s: s.seq)
    for source in waiting:
        if source.kind == CREDIT_NOTE:  # a credit note names its invoice by id
            hits = [r for r in source.waiting_for if r == invoice.invoice_id]
        else:
            hits = [r for r in source.waiting_for if normalize_ref(r) in names]
        if not hits:
            continue
        source.waiting_for = [r for r in source.waiting_for if r not in hits]
        if source.currency != invoice.currency:
            continue
        items = [i for i in ledger.invoice_items(invoice.invoice_id) if i.is_open]
        applied = _fill(source, items)
        if applied and source.kind == PAYMENT:
            out.append(outcome.payment_applied(source.id, source.currency, applied, source.on_account,
                                               str(ApplicationMethod.reference)))
        out.extend(_settle([i for i, _ in applied], business_date))
    return out


# --- reversals ---------------------------------------------------------------


def reverse_payment(ledger: Ledger, reversal: PaymentReversed, business_date: date,
                    policy: AgingPolicy) -> list[Outcome]:
    """Reopen exactly what the payment settled (write-offs it caused included) and
    take back what it left on account; reopened items take the phase their age says."""
    ledger.see_date(business_date)
    source = ledger.sources.get((PAYMENT, reversal.payment_id))
    if source is None:
        ledger.reversed_early.add(reversal.payment_id)
        return []
    if source.reversed:
        return []
    touched = _reverse(ledger, source)
    out = []
    for item in touched:
        if item.is_open or item.open_amount == 0:
            continue
        before = item.phase
        days = days_past_due(item.due_date, business_date)
        item.phase = phase_for(days, policy.phases)
        item.settled_on = None
        out.append(outcome.phase_changed(item, before, days))
        if item.phase == Phase.handed_over:
            out.append(outcome.receivable_handed_over(item, days, handover_reason(policy.phases)))
    return out


def _reverse(ledger: Ledger, source: Source) -> list[Item]:
    touched = {}
    for key, amount in source.allocations.items():
        ledger.items[key].open_amount += amount
        touched[key] = ledger.items[key]
    for key, amount in source.written_off.items():
        item = ledger.items[key]
        item.open_amount += amount
        item.written_off -= amount
        ledger.totals_for(item.currency).written_off -= amount
        touched[key] = item
    ledger.totals_for(source.currency).reversed += source.amount
    source.allocations = {}
    source.written_off = {}
    source.on_account = ZERO
    source.waiting_for = []
    source.reversed = True
    return list(touched.values())
