"""The aging report of a past date replays the journal up to that date."""

import datetime as dt
from decimal import Decimal

from softcollect_aging.report import JournalEntry, render, replay
from softcollect_runtime.tenants import AgingPolicy

D = dt.date.fromisoformat
JOURNAL = [
    JournalEntry("C1", D("2026-01-05"), "invoice.issued", {
        "invoice_id": "I1", "number": "1", "issue_date": "2026-01-05", "due_date": "2026-01-31",
        "currency": "EUR", "amount": "100.00"}),
    JournalEntry("C1", D("2026-01-05"), "invoice.issued", {
        "invoice_id": "I2", "number": "2", "issue_date": "2026-01-05", "due_date": "2026-03-31",
        "currency": "EUR", "amount": "50.00"}),
    JournalEntry("C1", D("2026-02-20"), "payment.received", {
        "payment_id": "P1", "amount": "100.00", "currency": "EUR", "value_date": "2026-02-20",
        "invoice_refs": ["I1"]}),
]


def test_before_the_payment_the_overdue_item_is_in_its_bucket():
    [line] = replay("acme", JOURNAL, D("2026-02-15"), AgingPolicy())
    assert line.open_amount == Decimal("150.00")
    assert line.buckets["d1_30"] == Decimal("100.00") and line.buckets["not_due"] == Decimal("50.00")


def test_after_the_payment_only_the_later_invoice_is_open():
    [line] = replay("acme", JOURNAL, D("2026-04-20"), AgingPolicy())
    assert line.open_amount == Decimal("50.00") and line.buckets["d1_30"] == Decimal("50.00")


def test_render_as_table_and_csv():
    lines = replay("acme", JOURNAL, D("2026-02-15"), AgingPolicy())
    table = render(lines, D("2026-02-15"))
    assert table.splitlines()[0] == "aging as of 2026-02-15"
    assert "TOTAL" in table and "150.00" in table
    csv_text = render(lines, D("2026-02-15"), as_csv=True)
    assert csv_text.splitlines()[1].startswith("C1,EUR,150.00,50.00,100.00")
