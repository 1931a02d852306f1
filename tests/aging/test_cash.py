"""Cash application (DOMAIN.md §5), credit notes, cancellations and reversals,
each rule on hand-made examples with explicit dates."""

from __future__ import annotations

from datetime import date

from softcollect_aging.domain import (
    cancel_invoice,
    issue_credit_note,
    issue_invoice,
    receive_payment,
    reverse_payment,
    tick,
)
from softcollect_runtime.tenants import AgingPolicy
from tests.aging.helpers import (
    TODAY,
    Book,
    D,
    cancellation,
    credit_note,
    day,
    invoice,
    of_type,
    payment,
    reversal,
    types,
)


def book_with(*invoices) -> Book:
    book = Book()
    for inv in invoices:
        book.do(issue_invoice, inv)
    return book


def applied(out) -> dict:
    (data,) = of_type(out, "payment.applied")
    return data


def allocations(out) -> list[tuple]:
    return [(a["invoice_id"], a.get("installment"), a["amount"]) for a in applied(out)["allocations"]]


# --- rule 1: references ------------------------------------------------------


def test_reference_by_number_settles_the_item():
    book = book_with(invoice("INV-1", "1250.00", day(-5), number="2026/1001"),
                     invoice("INV-2", "1250.00", day(-3), number="2026/1002"))
    out = book.do(receive_payment, payment("P1", "1250.00", refs=["2026/1002"]))
    assert types(out) == ["payment.applied", "receivable.settled", "receivable.phase_changed"]
    assert applied(out) == {"payment_id": "P1", "currency": "EUR", "method": "reference", "unapplied": "0.00",
                            "allocations": [{"invoice_id": "INV-2", "amount": "1250.00"}]}
    assert of_type(out, "receivable.settled") == [{"invoice_id": "INV-2", "settled_on": TODAY.isoformat(),
                                                   "days_to_pay": 3}]
    assert of_type(out, "receivable.phase_changed")[0]["to"] == "settled"
    assert book.item("INV-1").open_amount == D("1250.00")


def test_reference_by_id_in_the_order_given_each_up_to_its_open_amount():
    book = book_with(invoice("INV-1", "100.00", day(-5)), invoice("INV-2", "300.00", day(-3)))
    out = book.do(receive_payment, payment("P1", "350.00", refs=["INV-2", "INV-1"]))
    assert applied(out)["method"] == "reference"
    assert allocations(out) == [("INV-2", None, "300.00"), ("INV-1", None, "50.00")]
    assert book.item("INV-1").open_amount == D("50.00")


def test_a_typo_in_the_remittance_still_names_the_invoice():
    book = book_with(invoice("INV-2", "500.00", day(-3), number="2026/1002"),
                     invoice("INV-3", "500.00", day(-2), number="2026/1003"))
    out = book.do(receive_payment, payment("P1", "500.00", remittance="Saldo fattura 2026/1O02"))
    assert allocations(out) == [("INV-2", None, "500.00")]
    assert applied(out)["method"] == "reference"


def test_an_exact_number_in_the_remittance_never_pays_the_invoice_one_digit_away():
    book = book_with(invoice("INV-2", "500.00", day(-10), number="2026/1002"),
                     invoice("INV-3", "500.00", day(-2), number="2026/1003"))
    book.do(receive_payment, payment("P0", "500.00", refs=["2026/1003"]))  # 1003 is now settled
    out = book.do(receive_payment, payment("P1", "500.00", remittance="fattura 2026/1003"))
    # it names 1003 exactly, which has nothing open: not 1002, not by amount either
    assert types(out) == ["payment.unmatched"]
    assert book.item("INV-2").open_amount == D("500.00")


def test_a_real_one_edit_typo_names_the_only_invoice_that_close():
    book = book_with(invoice("INV-2", "500.00", day(-3), number="2026/1002"),
                     invoice("INV-9", "80.00", day(-2), number="2026/2999"))
    out = book.do(receive_payment, payment("P1", "200.00", remittance="acconto ft.2026/10002 grazie"))
    assert allocations(out) == [("INV-2", None, "200.00")]


def test_a_typo_equally_close_to_two_invoices_names_neither():
    book = book_with(invoice("INV-2", "500.00", day(-3), number="2026/1002"),
                     invoice("INV-3", "400.00", day(-2), number="2026/1003"))
    out = book.do(receive_payment, payment("P1", "123.00", remittance="pagamento 2026/100"))
    assert types(out) == ["payment.unmatched"]


def test_a_word_glued_to_the_number_is_set_aside():
    book = book_with(invoice("INV-2", "500.00", day(-3), number="2026/1002"))
    out = book.do(receive_payment, payment("P1", "500.00", remittance="Nr.2026/1002"))
    assert allocations(out) == [("INV-2", None, "500.00")]


def test_overpayment_by_reference_stays_on_account():
    book = book_with(invoice("INV-1", "100.00", day(-5)))
    out = book.do(receive_payment, payment("P1", "130.00", refs=["INV-1"]))
    assert applied(out)["unapplied"] == "30.00"
    assert book.ledger.unapplied("EUR") == D("30.00")


def test_a_reference_to_an_invoice_with_nothing_open_goes_to_rule_5():
    book = book_with(invoice("INV-1", "100.00", day(-5)), invoice("INV-2", "100.00", day(-4)))
    book.do(receive_payment, payment("P1", "100.00", refs=["INV-1"]))
    out = book.do(receive_payment, payment("P2", "100.00", refs=["INV-1"]))
    assert types(out) == ["payment.unmatched"]  # a double payment is not spent on INV-2 by amount
    assert book.item("INV-2").open_amount == D("100.00")


def test_early_payment_has_negative_days_to_pay():
    book = book_with(invoice("INV-1", "100.00", day(12)))
    out = book.do(receive_payment, payment("P1", "100.00", refs=["INV-1"]))
    assert of_type(out, "receivable.settled")[0]["days_to_pay"] == -12
    assert of_type(out, "receivable.phase_changed")[0]["days_past_due"] == -12


def test_a_referenced_invoice_with_installments_is_paid_oldest_installment_first():
    book = book_with(invoice("INV-1", "300.00", day(40), installments=[(day(-10), "100.00"), (day(10), "100.00"),
                                                                      (day(40), "100.00")]))
    out = book.do(receive_payment, payment("P1", "150.00", refs=["INV-1"]))
    assert allocations(out) == [("INV-1", 1, "100.00"), ("INV-1", 2, "50.00")]
    assert of_type(out, "receivable.settled") == [{"invoice_id": "INV-1", "installment": 1,
                                                   "settled_on": TODAY.isoformat(), "days_to_pay": 10}]


# --- rules 2 and 3: amounts --------------------------------------------------


def test_exact_amount_of_exactly_one_item():
    book = book_with(invoice("A", "100.00", day(-20)), invoice("B", "250.00", day(-10)),
                     invoice("C", "75.00", day(-5)))
    out = book.do(receive_payment, payment("P1", "250.00"))
    assert applied(out)["method"] == "exact_amount"
    assert allocations(out) == [("B", None, "250.00")]


def test_exact_amount_shared_by_two_younger_items_is_ambiguous():
    book = book_with(invoice("A", "100.00", day(-20)), invoice("B", "250.00", day(-10)),
                     invoice("C", "250.00", day(-5)))
    out = book.do(receive_payment, payment("P1", "250.00"))
    assert types(out) == ["payment.unmatched"]
    assert of_type(out, "payment.unmatched")[0]["amount"] == "250.00"


def test_combination_of_the_oldest_items():
    book = book_with(invoice("A", "100.00", day(-20)), invoice("B", "250.00", day(-10)),
                     invoice("C", "75.00", day(-5)), invoice("D", "40.00", day(5)))
    out = book.do(receive_payment, payment("P1", "425.00"))
    assert applied(out)["method"] == "combination"
    assert allocations(out) == [("A", None, "100.00"), ("B", None, "250.00"), ("C", None, "75.00")]
    assert book.item("D").open_amount == D("40.00")


def test_combination_never_skips_an_older_item():
    book = book_with(invoice("A", "100.00", day(-20)), invoice("B", "250.00", day(-10)),
                     invoice("C", "75.00", day(-5)))
    out = book.do(receive_payment, payment("P1", "325.00"))  # B + C, skipping A
    assert types(out) == ["payment.unmatched"]


def test_combination_takes_at_most_five_items():
    invoices = [invoice(f"I{n}", "10.00", day(-30 + n)) for n in range(6)]
    book = book_with(*invoices)
    assert applied(book.do(receive_payment, payment("P1", "50.00")))["method"] == "combination"
    book = book_with(*invoices)
    assert types(book.do(receive_payment, payment("P2", "60.00"))) == ["payment.unmatched"]


# --- rule 4: tolerance -------------------------------------------------------


def test_tolerance_on_a_reference_writes_the_difference_off():
    book = book_with(invoice("INV-1", "100.00", day(-5)))
    out = book.do(receive_payment, payment("P1", "99.20", refs=["INV-1"]))
    assert applied(out) == {"payment_id": "P1", "currency": "EUR", "method": "tolerance", "unapplied": "0.00",
                            "written_off": "0.80", "allocations": [{"invoice_id": "INV-1", "amount": "99.20"}]}
    assert book.item("INV-1").phase == "settled"
    assert book.ledger.totals["EUR"].written_off == D("0.80")


def test_beyond_tolerance_a_reference_is_paid_in_part():
    book = book_with(invoice("INV-1", "100.00", day(-5)))
    out = book.do(receive_payment, payment("P1", "98.99", refs=["INV-1"]))
    assert applied(out)["method"] == "reference"
    assert book.item("INV-1").open_amount == D("1.01")


def test_tolerance_on_the_single_candidate_without_reference():
    book = book_with(invoice("A", "200.00", day(-5)), invoice("B", "500.00", day(-4)))
    out = book.do(receive_payment, payment("P1", "199.50"))
    assert applied(out)["method"] == "tolerance"
    assert applied(out)["written_off"] == "0.50"
    assert book.item("A").phase == "settled"


def test_tolerance_over_the_single_candidate_leaves_the_excess_on_account():
    book = book_with(invoice("A", "200.00", day(-5)), invoice("B", "500.00", day(-4)))
    out = book.do(receive_payment, payment("P1", "200.40"))
    assert applied(out)["method"] == "tolerance"
    assert applied(out)["unapplied"] == "0.40"
    assert "written_off" not in applied(out)


def test_two_candidates_within_tolerance_are_ambiguous():
    book = book_with(invoice("A", "200.00", day(-5)), invoice("B", "200.30", day(-4)))
    assert types(book.do(receive_payment, payment("P1", "199.90"))) == ["payment.unmatched"]


# --- rule 5 ------------------------------------------------------------------


def test_unmatched_money_stays_on_account():
    book = book_with(invoice("A", "200.00", day(-5)))
    out = book.do(receive_payment, payment("P1", "80.00"))
    assert of_type(out, "payment.unmatched")[0]["amount"] == "80.00"
    assert book.ledger.unapplied("EUR") == D("80.00")
    assert book.item("A").open_amount == D("200.00")


def test_oldest_first_option_applies_unmatched_money_to_the_oldest_items():
    book = Book(policy=AgingPolicy(unmatched_cash="oldest_first"))
    for inv in (invoice("B", "100.00", day(-5)), invoice("A", "100.00", day(-9))):
        book.do(issue_invoice, inv)
    out = book.do(receive_payment, payment("P1", "150.00"))
    assert applied(out)["method"] == "oldest_first"
    assert allocations(out) == [("A", None, "100.00"), ("B", None, "50.00")]


# --- currencies --------------------------------------------------------------


def test_different_currencies_never_match():
    book = book_with(invoice("A", "100.00", day(-5)))
    out = book.do(receive_payment, payment("P1", "100.00", currency="USD"))
    assert types(out) == ["payment.unmatched"]
    out = book.do(receive_payment, payment("P2", "100.00", currency="USD", refs=["A"]))
    assert types(out) == ["payment.unmatched"]
    assert book.ledger.unapplied("USD") == D("200.00") and book.ledger.unapplied("EUR") == 0
    assert book.item("A").open_amount == D("100.00")
    out = book.do(issue_credit_note, credit_note("CN1", "40.00", "A", currency="USD"))
    assert out == [] and book.item("A").open_amount == D("100.00")


# --- held for invoices not arrived yet --------------------------------------


def test_payment_before_its_invoice_is_held_and_applied_when_it_arrives():
    book = Book()
    out = book.do(receive_payment, payment("P1", "120.00", refs=["2026/7"]))
    assert types(out) == ["payment.unmatched"]
    assert book.ledger.unapplied("EUR") == D("120.00")
    out = book.do(issue_invoice, invoice("INV-7", "100.00", day(-2), number="2026/7"))
    assert types(out) == ["receivable.opened", "payment.applied", "receivable.settled", "receivable.phase_changed"]
    assert applied(out)["unapplied"] == "20.00"
    assert book.ledger.unapplied("EUR") == D("20.00")


def test_credit_note_before_its_invoice_is_held_and_applied_when_it_arrives():
    book = Book()
    assert book.do(issue_credit_note, credit_note("CN1", "30.00", "INV-7")) == []
    out = book.do(issue_invoice, invoice("INV-7", "100.00", day(5), installments=[(day(-5), "20.00"),
                                                                                  (day(5), "80.00")]))
    assert types(out) == ["receivable.opened", "receivable.opened", "receivable.settled", "receivable.phase_changed"]
    assert book.item("INV-7", 1).open_amount == 0
    assert book.item("INV-7", 2).open_amount == D("70.00")
    assert book.ledger.unapplied("EUR") == 0


def test_credit_note_excess_and_credit_without_invoice_sit_on_account():
    book = book_with(invoice("A", "100.00", day(-5)))
    book.do(issue_credit_note, credit_note("CN1", "130.00", "A"))
    book.do(issue_credit_note, credit_note("CN2", "15.00"))
    assert book.item("A").phase == "settled"
    assert book.ledger.unapplied("EUR") == D("45.00")


# --- cancellations -----------------------------------------------------------


def test_cancellation_moves_items_to_cancelled_and_returns_what_was_paid_to_the_account():
    book = book_with(invoice("A", "300.00", day(10), installments=[(day(-5), "100.00"), (day(10), "200.00")]))
    book.do(receive_payment, payment("P1", "100.00", refs=["A"]))
    out = book.do(cancel_invoice, cancellation("A"))
    assert [(c["installment"], c["from"], c["to"]) for c in of_type(out, "receivable.phase_changed")] == [
        (1, "settled", "cancelled"), (2, "expiring", "cancelled")]
    assert book.ledger.unapplied("EUR") == D("100.00")
    assert book.ledger.totals["EUR"].cancelled == D("300.00")
    assert book.do(cancel_invoice, cancellation("A")) == []


def test_cancellation_before_the_invoice_means_it_never_opens():
    book = Book()
    book.do(receive_payment, payment("P1", "50.00", refs=["A"]))
    assert book.do(cancel_invoice, cancellation("A")) == []
    assert book.do(issue_invoice, invoice("A", "100.00", day(-5))) == []
    assert book.item("A").phase == "cancelled"
    assert book.ledger.unapplied("EUR") == D("50.00")
    assert book.ledger.sources[("payment", "P1")].waiting_for == []


# --- reversals ---------------------------------------------------------------


def test_reversal_reopens_exactly_what_the_payment_settled():
    book = book_with(invoice("A", "100.00", day(-20)), invoice("B", "200.00", day(-12)),
                     invoice("C", "50.00", day(-2)))
    book.do(receive_payment, payment("P0", "30.00", refs=["C"]))
    before = {k: (i.open_amount, i.phase) for k, i in book.ledger.items.items()}
    book.do(receive_payment, payment("P1", "400.00", refs=["A", "B", "C"]))
    assert book.ledger.unapplied("EUR") == D("80.00")
    later = day(14)
    book.today = later
    book.do(tick, on=later)
    out = book.do(reverse_payment, reversal("P1"), on=later)
    assert {k: (i.open_amount) for k, i in book.ledger.items.items()} == {k: v[0] for k, v in before.items()}
    assert book.ledger.unapplied("EUR") == 0
    # reopened at the phase their age says on the reversal's date
    changes = {c["invoice_id"]: (c["from"], c["to"], c["days_past_due"])
               for c in of_type(out, "receivable.phase_changed")}
    assert changes == {"A": ("settled", "handed_over", 34), "B": ("settled", "just_expired", 26),
                       "C": ("settled", "just_expired", 16)}
    assert [h["invoice_id"] for h in of_type(out, "receivable.handed_over")] == ["A"]
    assert book.item("A").settled_on is None
    assert book.do(reverse_payment, reversal("P1"), on=later) == []  # once only


def test_reversal_undoes_the_tolerance_write_off():
    book = book_with(invoice("A", "100.00", day(-5)))
    book.do(receive_payment, payment("P1", "99.50", refs=["A"]))
    book.do(reverse_payment, reversal("P1"))
    assert book.item("A").open_amount == D("100.00")
    assert book.ledger.totals["EUR"].written_off == 0


def test_reversal_before_the_payment_cancels_it_on_arrival():
    book = book_with(invoice("A", "100.00", day(-5)))
    assert book.do(reverse_payment, reversal("P1")) == []
    assert book.do(receive_payment, payment("P1", "100.00", refs=["A"])) == []
    assert book.item("A").open_amount == D("100.00")
    assert book.ledger.unapplied("EUR") == 0


def test_repeated_events_change_nothing():
    book = book_with(invoice("A", "100.00", day(-5)))
    assert book.do(issue_invoice, invoice("A", "100.00", day(-5))) == []
    book.do(receive_payment, payment("P1", "60.00", refs=["A"]))
    assert book.do(receive_payment, payment("P1", "60.00", refs=["A"])) == []
    book.do(issue_credit_note, credit_note("CN1", "10.00", "A"))
    assert book.do(issue_credit_note, credit_note("CN1", "10.00", "A")) == []
    assert book.item("A").open_amount == D("30.00")


def test_business_date_not_the_value_date_settles():
    book = book_with(invoice("A", "100.00", date(2026, 2, 20)))
    out = book.do(receive_payment, payment("P1", "100.00", refs=["A"], value_date=date(2026, 2, 25)))
    assert of_type(out, "receivable.settled")[0]["settled_on"] == TODAY.isoformat()
