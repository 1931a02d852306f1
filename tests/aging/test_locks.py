"""Locking and unlocking the customer position (DOMAIN.md §6): every rule, the
exclusions (disputes, holds, plans), and one event per change."""

from __future__ import annotations

from datetime import date

from softcollect_aging.domain import (
    close_dispute,
    cover_by_plan,
    issue_invoice,
    open_dispute,
    overdue_position,
    place_hold,
    receive_payment,
    release_hold,
    release_plan,
    upsert_customer,
)
from tests.aging.helpers import Book, D, customer, hold, hold_released, invoice, of_type, payment, types

DUE = date(2026, 3, 1)


def overdue_book(amount: str = "600.00", days: int = 25) -> Book:
    book = Book(today=date.fromordinal(DUE.toordinal() + days))
    book.do(issue_invoice, invoice("A", amount, DUE, issue=date(2026, 2, 1)))
    return book


def test_locks_at_the_minimum_amount_and_25_days():
    book = Book(today=date(2026, 3, 20))
    book.do(issue_invoice, invoice("A", "300.00", DUE, issue=date(2026, 2, 1)))
    book.do(issue_invoice, invoice("B", "200.00", date(2026, 3, 10), issue=date(2026, 2, 1)))
    assert "customer.locked" not in types(book.tick(date(2026, 3, 25)))  # 500.00 overdue, oldest 24 days
    out = book.tick(date(2026, 3, 26))
    assert of_type(out, "customer.locked") == [{"reason": "overdue", "currency": "EUR", "overdue_amount": "500.00",
                                                "max_days_past_due": 25}]
    assert [o.subject for o in out if o.type == "customer.locked"] == [None]
    assert book.ledger.locked and book.ledger.lock_reason == "overdue"
    assert "customer.locked" not in types(book.tick(date(2026, 3, 27)))  # never a repeat


def test_below_the_minimum_amount_does_not_lock():
    book = overdue_book("499.99", days=40)
    assert not book.ledger.locked


def test_young_overdue_items_do_not_lock():
    book = overdue_book("5000.00", days=24)
    assert not book.ledger.locked


def test_payment_unlocks_once():
    book = overdue_book()
    assert book.ledger.locked
    out = book.do(receive_payment, payment("P1", "200.00", refs=["A"]))
    assert of_type(out, "customer.unlocked") == [{"reason": "no_rule_holds", "currency": "EUR",
                                                  "overdue_amount": "400.00", "max_days_past_due": 25}]
    out = book.do(receive_payment, payment("P2", "100.00", refs=["A"]))
    assert "customer.unlocked" not in types(out)


def test_a_dispute_takes_its_part_out_of_the_lock_amount_and_back_when_it_closes():
    book = overdue_book()
    out = book.do(open_dispute, "A", "DSP-1", D("150.00"))
    assert types(out) == ["customer.unlocked"]
    assert overdue_position(book.ledger, "EUR", book.today).amount == D("450.00")
    assert book.ledger.disputed_amount(book.item("A")) == D("150.00")
    assert types(book.do(close_dispute, "DSP-1")) == ["customer.locked"]


def test_a_dispute_without_amount_covers_the_whole_open_amount():
    book = overdue_book()
    book.do(open_dispute, "A", "DSP-1", None)
    assert overdue_position(book.ledger, "EUR", book.today).amount == 0


def test_invoice_and_customer_holds_are_excluded_and_a_dated_hold_runs_out():
    book = Book(today=date(2026, 3, 20))
    book.do(place_hold, hold("H1", "A", until=date(2026, 3, 30)))  # before the invoice arrives
    book.do(issue_invoice, invoice("A", "600.00", DUE, issue=date(2026, 2, 1)))
    assert book.tick(date(2026, 3, 30)) == []  # 29 days past due, held through today
    out = book.tick(date(2026, 3, 31))
    assert types(out) == ["customer.locked"]
    assert types(book.do(place_hold, hold("H2"))) == ["customer.unlocked"]  # customer-wide
    assert types(book.do(place_hold, hold("H3"))) == []
    assert types(book.do(release_hold, hold_released("H2"))) == []  # H3 still holds everything
    assert types(book.do(release_hold, hold_released("H3"))) == ["customer.locked"]


def test_a_broken_plan_locks_until_a_later_plan_activates():
    book = overdue_book("100.00", days=20)
    assert not book.ledger.locked
    book.do(cover_by_plan, "PLAN-1", ["A"])
    assert book.item("A").covered_by_plan == "PLAN-1"
    assert book.ledger.is_held(book.item("A"), book.today)
    out = book.do(release_plan, "PLAN-1", True)
    assert of_type(out, "customer.locked") == [{"reason": "plan_broken", "currency": "EUR",
                                                "overdue_amount": "100.00", "max_days_past_due": 20}]
    out = book.do(cover_by_plan, "PLAN-2", ["A"])
    assert types(out) == ["customer.unlocked"]


def test_a_broken_plan_locks_until_its_items_are_paid():
    book = overdue_book("100.00", days=20)
    book.do(cover_by_plan, "PLAN-1", ["A"])
    book.do(release_plan, "PLAN-1", True)
    out = book.do(receive_payment, payment("P1", "100.00", refs=["A"]))
    assert "customer.unlocked" in types(out)
    assert book.ledger.broken_plans == {}


def test_a_plan_that_ends_well_does_not_lock():
    book = overdue_book("900.00", days=40)
    book.do(cover_by_plan, "PLAN-1", ["A"])
    assert not book.ledger.locked
    out = book.do(release_plan, "PLAN-1", False)
    assert types(out) == ["customer.locked"]  # back to collection at its real age: the overdue rule
    assert book.ledger.lock_reason == "overdue"


def test_exposure_over_the_credit_limit_locks_and_unapplied_cash_counts_against_it():
    book = Book(today=date(2026, 2, 1))
    book.do(upsert_customer, customer("1000.00"))
    book.do(issue_invoice, invoice("A", "800.00", DUE, issue=date(2026, 1, 20)))
    out = book.do(issue_invoice, invoice("B", "300.00", DUE, issue=date(2026, 1, 21)))
    assert of_type(out, "customer.locked") == [{"reason": "credit_limit_exceeded", "currency": "EUR",
                                                "overdue_amount": "0.00", "max_days_past_due": 0}]
    out = book.do(receive_payment, payment("P1", "150.00"))  # unmatched, on account
    assert types(out) == ["payment.unmatched", "customer.unlocked"]


def test_a_credit_limit_left_out_of_the_master_data_is_gone():
    book = Book(today=date(2026, 2, 1))
    book.do(upsert_customer, customer("100.00"))
    book.do(issue_invoice, invoice("A", "800.00", DUE, issue=date(2026, 1, 20)))
    assert book.ledger.locked
    assert types(book.do(upsert_customer, customer())) == ["customer.unlocked"]


def test_other_currencies_do_not_count_against_the_limit():
    book = Book(today=date(2026, 2, 1))
    book.do(upsert_customer, customer("100.00"))
    book.do(issue_invoice, invoice("A", "800.00", DUE, issue=date(2026, 1, 20), currency="USD"))
    assert not book.ledger.locked


def test_a_locked_ledger_is_reviewed_only_for_phase_changes():
    from softcollect_aging.domain import Ledger, evaluate_lock, issue_invoice
    from tests.aging.helpers import POLICY, TODAY, day

    ledger = Ledger(tenantid="t", customerid="c")
    issue_invoice(ledger, invoice("I1", "900.00", day(-26)), TODAY, POLICY)  # just_expired
    issue_invoice(ledger, invoice("I2", "50.00", day(1)), TODAY, POLICY)  # expiring
    evaluate_lock(ledger, TODAY, POLICY)
    assert ledger.locked  # 900 ≥ 500 and 26 ≥ 25 days past due
    # Locked, time alone cannot change the lock: the next review is I1 turning 31 days past due.
    assert ledger.next_review(POLICY) == day(5)
    # Unlocked, I2 falling overdue the day after its due date is a review date too.
    ledger.locked = False
    assert ledger.next_review(POLICY) == day(2)
