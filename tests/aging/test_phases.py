"""Phases by days past due (DOMAIN.md §2): every boundary, ticks that jump,
installments aging on their own, and the review date."""

from __future__ import annotations

from datetime import date

import pytest

from softcollect_aging.domain import issue_invoice, phase_for, place_hold
from softcollect_runtime.tenants import AgingPolicy, PhaseWindows
from tests.aging.helpers import POLICY, Book, day, hold, invoice, of_type, types

DUE = date(2026, 4, 1)


@pytest.mark.parametrize(("days", "phase"), [
    (-16, "upcoming"), (-15, "expiring"), (0, "expiring"), (10, "expiring"),
    (11, "just_expired"), (30, "just_expired"), (31, "handed_over"), (400, "handed_over"),
])
def test_phase_windows(days, phase):
    assert phase_for(days, POLICY.phases) == phase


@pytest.mark.parametrize(("days", "phase"), [(-16, "upcoming"), (-15, "expiring"), (10, "expiring"),
                                             (11, "just_expired"), (30, "just_expired")])
def test_an_item_opens_in_the_phase_its_age_says_without_a_phase_change(days, phase):
    book = Book()
    out = book.do(issue_invoice, invoice("A", "100.00", day(-days)))
    assert types(out) == ["receivable.opened"]
    assert out[0].data == {"invoice_id": "A", "due_date": day(-days).isoformat(), "currency": "EUR",
                           "amount": "100.00", "open_amount": "100.00"}
    assert out[0].subject == "A"
    assert book.item("A").phase == phase


def test_an_item_already_31_days_past_due_opens_handed_over():
    book = Book()
    out = book.do(issue_invoice, invoice("A", "100.00", day(-31)))
    assert types(out) == ["receivable.opened", "receivable.handed_over"]
    assert of_type(out, "receivable.handed_over")[0]["days_past_due"] == 31


@pytest.mark.parametrize(("before", "after", "from_", "to"), [
    (-16, -15, "upcoming", "expiring"),
    (10, 11, "expiring", "just_expired"),
    (30, 31, "just_expired", "handed_over"),
])
def test_tick_crosses_each_boundary_on_its_day(before, after, from_, to):
    book = Book(today=day(before, DUE))
    book.do(issue_invoice, invoice("A", "250.00", DUE, issue=date(2026, 2, 1)))
    assert book.item("A").phase == from_
    assert book.tick(day(before, DUE)) == []
    out = book.tick(day(after, DUE))
    changes = of_type(out, "receivable.phase_changed")
    assert changes == [{"invoice_id": "A", "from": from_, "to": to, "days_past_due": after,
                        "currency": "EUR", "open_amount": "250.00"}]
    assert book.tick(day(after, DUE)) == []  # a repeated tick changes nothing


def test_entering_handed_over_emits_the_hand_over():
    book = Book(today=day(30, DUE))
    book.do(issue_invoice, invoice("A", "250.00", DUE, issue=date(2026, 2, 1)))
    out = book.tick(day(31, DUE))
    assert of_type(out, "receivable.handed_over") == [{
        "invoice_id": "A", "currency": "EUR", "open_amount": "250.00", "days_past_due": 31,
        "reason": "more than 30 days past due"}]


def test_a_tick_that_jumps_moves_straight_to_the_current_phase_in_one_change():
    book = Book(today=day(-20, DUE))
    book.do(issue_invoice, invoice("A", "250.00", DUE, issue=date(2026, 2, 1)))
    out = book.tick(day(45, DUE))
    assert of_type(out, "receivable.phase_changed") == [{
        "invoice_id": "A", "from": "upcoming", "to": "handed_over", "days_past_due": 45,
        "currency": "EUR", "open_amount": "250.00"}]
    assert len(of_type(out, "receivable.handed_over")) == 1


def test_installments_age_on_their_own():
    book = Book(today=date(2026, 3, 1))
    inv = invoice("A", "300.00", date(2026, 5, 31), issue=date(2026, 2, 20),
                  installments=[(date(2026, 3, 31), "100.00"), (date(2026, 4, 30), "100.00"),
                                (date(2026, 5, 31), "100.00")])
    out = book.do(issue_invoice, inv)
    assert [(o.data["installment"], o.data["due_date"]) for o in out] == [
        (1, "2026-03-31"), (2, "2026-04-30"), (3, "2026-05-31")]
    assert [book.item("A", n).phase for n in (1, 2, 3)] == ["upcoming"] * 3
    out = book.tick(date(2026, 4, 16))  # 1: 16 days late; 2: 14 days ahead; 3: 45 days ahead
    assert [(c["installment"], c["to"]) for c in of_type(out, "receivable.phase_changed")] == [
        (1, "just_expired"), (2, "expiring")]
    assert book.item("A", 3).phase == "upcoming"


def test_tenant_windows_move_the_boundaries():
    policy = AgingPolicy(phases=PhaseWindows(expiring_from=-7, just_expired_from=5, handed_over_from=61))
    assert [phase_for(d, policy.phases) for d in (-8, -7, 4, 5, 60, 61)] == [
        "upcoming", "expiring", "expiring", "just_expired", "just_expired", "handed_over"]
    book = Book(policy=policy, today=day(60, DUE))
    book.do(issue_invoice, invoice("A", "10.00", DUE, issue=date(2026, 2, 1)))
    out = book.tick(day(61, DUE))
    assert of_type(out, "receivable.handed_over")[0]["reason"] == "more than 60 days past due"


def test_next_review_is_the_next_day_anything_can_change_by_time_alone():
    book = Book(today=date(2026, 3, 1))
    assert book.ledger.next_review(POLICY) is None
    book.do(issue_invoice, invoice("A", "100.00", DUE, issue=date(2026, 2, 1)))  # upcoming until Mar 17
    assert book.ledger.next_review(POLICY) == date(2026, 3, 17)
    book.tick(date(2026, 3, 17))  # expiring: next the day it falls overdue
    assert book.ledger.next_review(POLICY) == date(2026, 4, 2)
    book.tick(date(2026, 4, 2))
    assert book.ledger.next_review(POLICY) == date(2026, 4, 12)  # just_expired
    book.tick(date(2026, 4, 12))
    assert book.ledger.next_review(POLICY) == date(2026, 4, 26)  # the lock age (25 days)
    book.tick(date(2026, 4, 26))
    assert book.ledger.next_review(POLICY) == date(2026, 5, 2)  # handed over
    book.tick(date(2026, 5, 2))
    assert book.ledger.next_review(POLICY) is None


def test_a_hold_running_out_is_a_review_date():
    book = Book(today=date(2026, 5, 10))
    book.do(issue_invoice, invoice("A", "100.00", DUE, issue=date(2026, 2, 1)))
    book.do(place_hold, hold("H1", "A", until=date(2026, 5, 20)))
    assert book.ledger.next_review(POLICY) == date(2026, 5, 21)
    book.tick(date(2026, 5, 21))
    assert book.ledger.holds == {}
