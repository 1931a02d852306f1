"""The ledger document, write-offs, month openings and the conservation law's bookkeeping."""

from __future__ import annotations

import json
from datetime import date

from softcollect_aging.domain import (
    Ledger,
    cover_by_plan,
    issue_credit_note,
    issue_invoice,
    open_dispute,
    place_hold,
    receive_payment,
    reverse_payment,
    upsert_customer,
    write_off,
)
from tests.aging.helpers import Book, D, credit_note, customer, day, hold, invoice, payment, reversal, types


def rich_book() -> Book:
    book = Book()
    book.do(upsert_customer, customer("900.00"))
    book.do(issue_invoice, invoice("A", "300.00", day(20), installments=[(day(-30), "100.00"), (day(20), "200.00")]))
    book.do(issue_invoice, invoice("B", "1000", day(-40), currency="JPY"))
    book.do(receive_payment, payment("P1", "150.00", refs=["A"]))
    book.do(receive_payment, payment("P2", "70.00", refs=["LATER"]))
    book.do(issue_credit_note, credit_note("CN1", "5.00"))
    book.do(open_dispute, "A", "DSP-1", D("20.00"))
    book.do(place_hold, hold("H1", "B", until=day(9)))
    book.do(cover_by_plan, "PL1", ["A"])
    book.do(reverse_payment, reversal("P9"))
    return book


def test_the_document_is_json_and_round_trips():
    ledger = rich_book().ledger
    document = json.loads(json.dumps(ledger.to_dict()))
    assert document["items"][0]["amount"] == "100.00"
    assert document["sources"][1]["waiting_for"] == ["LATER"]
    assert Ledger.from_dict(document) == ledger


def test_write_off_closes_the_rest_and_keeps_the_books():
    book = Book()
    book.do(issue_invoice, invoice("A", "1250.00", day(-40)))
    book.do(receive_payment, payment("P1", "1000.00", refs=["A"]))
    out = book.do(write_off, ["A"])
    assert types(out)[0] == "receivable.phase_changed" and out[0].data["to"] == "written_off"
    assert book.ledger.totals["EUR"].written_off == D("250.00")
    book.do(reverse_payment, reversal("P1"))  # the money bounced: the item is owed again, the write-off stays
    assert book.item("A").open_amount == D("1000.00") and book.item("A").phase == "handed_over"


def test_the_first_transition_of_a_month_fixes_its_opening_ar():
    book = Book(today=date(2026, 5, 20))
    book.do(issue_invoice, invoice("A", "100.00", date(2026, 6, 20), issue=date(2026, 5, 20)))
    assert book.ledger.summary(date(2026, 5, 31), "EUR").opening_ar == 0
    assert book.ledger.summary(date(2026, 6, 30), "EUR").opening_ar == D("100.00")  # nothing happened in June
    book.do(issue_invoice, invoice("B", "50.00", date(2026, 7, 20), issue=date(2026, 6, 2)), on=date(2026, 6, 2))
    summary = book.ledger.summary(date(2026, 6, 30), "EUR")
    assert (summary.opening_ar, summary.closing_ar, summary.sales) == (
        D("100.00"), D("150.00"), {"2026-05": D("100.00"), "2026-06": D("50.00")})
