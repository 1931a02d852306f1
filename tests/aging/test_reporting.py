"""Aging snapshots and tenant KPIs (DOMAIN.md §10), computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from softcollect_aging.domain import (
    DebtorSummary,
    count_back_dso,
    issue_invoice,
    open_dispute,
    portfolio_kpis,
    receive_payment,
)
from tests.aging.helpers import TODAY, Book, D, day, invoice, payment, validate


def test_snapshot_buckets_phases_disputed_and_unapplied():
    book = Book()
    amounts = {-5: "1.00", 0: "2.00", 1: "4.00", 30: "8.00", 31: "16.00", 60: "32.00", 61: "64.00",
               90: "128.00", 91: "256.00", 120: "512.00", 121: "1024.00"}
    for days, amount in amounts.items():
        book.do(issue_invoice, invoice(f"I{days}", amount, day(-days), issue=day(-days - 30)))
    book.do(issue_invoice, invoice("U1", "7.00", day(-3), currency="USD"))
    book.do(open_dispute, "I1", "DSP-1", D("3.00"))
    book.do(receive_payment, payment("P1", "5000.00"))  # matches nothing: on account
    (eur, usd) = validate(book.ledger.snapshot(TODAY))
    assert eur.data == {
        "as_of": "2026-03-02", "currency": "EUR", "open_amount": "2047.00",
        "buckets": {"not_due": "3.00", "d1_30": "12.00", "d31_60": "48.00", "d61_90": "192.00",
                    "d91_120": "768.00", "over_120": "1024.00"},
        "phases": {"upcoming": "0.00", "expiring": "7.00", "just_expired": "8.00", "handed_over": "2032.00"},
        "disputed": "3.00", "unapplied": "5000.00",
    }
    assert usd.data["open_amount"] == "7.00" and usd.data["unapplied"] == "0.00"


def test_no_snapshot_for_a_currency_with_nothing_open_or_on_account():
    book = Book()
    book.do(issue_invoice, invoice("A", "10.00", day(-3)))
    book.do(receive_payment, payment("P1", "10.00", refs=["A"]))
    assert book.ledger.snapshot(TODAY) == []


def test_count_back_dso_from_the_issue():
    # closing AR 405; monthly sales 205, 158, 167 (newest first), 30-day months:
    # 405-205=200 (30 d), 200-158=42 (30 d), 42/167*30 = 7.545 d  -> 67.5 days
    months = [(D("205"), 30), (D("158"), 30), (D("167"), 30)]
    assert count_back_dso(D("405"), months).quantize(Decimal("0.1")) == D("67.5")
    assert count_back_dso(D("0"), months) == 0
    assert count_back_dso(D("205"), months) == 30


def test_portfolio_kpis_over_two_debtors_by_hand():
    first = Book(today=date(2026, 4, 10))
    first.do(issue_invoice, invoice("A", "167.00", date(2026, 5, 10), issue=date(2026, 4, 10)))
    first.do(issue_invoice, invoice("B", "158.00", date(2026, 6, 11), issue=date(2026, 5, 12)),
             on=date(2026, 5, 12))
    first.do(receive_payment, payment("P1", "125.00", refs=["A"]), on=date(2026, 6, 20))
    second = Book(today=date(2026, 6, 5))
    second.do(issue_invoice, invoice("C", "205.00", date(2026, 7, 30), issue=date(2026, 6, 5)))
    out = portfolio_kpis(date(2026, 6, 30), "EUR", [first.ledger, second.ledger],
                         promise_kept_rate=D("0.7500"), open_disputes=2, mean_dispute_days=D("6.5"))
    validate([out])
    # closing AR 42 + 158 + 205 = 405; current (not due) 205; overdue 200; opening AR on June 1: 325.
    # DSO: 405-205 = 200 (June, 30 d), 200-158 = 42 (May, 31 d), 42/167*30 = 7.545 (April) -> 68.5
    # best possible: 205 of June's 205 -> 30.0; CEI: (325+205-405)/(325+205-205)*100 = 38.46
    assert out.data == {
        "as_of": "2026-06-30", "currency": "EUR", "dso": "68.5", "best_possible_dso": "30.0",
        "average_days_delinquent": "38.5", "cei": "38.46", "overdue_ratio": "0.4938",
        "promise_kept_rate": "0.7500", "open_disputes": 2, "mean_dispute_days": "6.5",
    }


def test_cei_on_summaries_and_absent_without_a_denominator():
    summary = DebtorSummary("EUR", opening_ar=D("1000"), closing_ar=D("600"), current_ar=D("400"),
                            overdue_ar=D("200"), sales={"2026-06": D("500")})
    out = portfolio_kpis(date(2026, 6, 30), "EUR", [summary])
    assert out.data["cei"] == "81.82"  # (1000 + 500 - 600) / (1000 + 500 - 400) * 100
    empty = portfolio_kpis(date(2026, 6, 30), "EUR", [])
    validate([empty])
    assert "cei" not in empty.data and empty.data["dso"] == "0.0" and empty.data["overdue_ratio"] == "0.0000"


def test_other_currencies_are_left_out_of_the_kpis():
    summary = DebtorSummary("USD", D("1"), D("1"), D("1"), D("0"), {"2026-06": D("1")})
    assert portfolio_kpis(date(2026, 6, 30), "EUR", [summary]).data["dso"] == "0.0"


def test_a_summary_in_a_later_month_opens_at_the_current_ar():
    book = Book(today=date(2026, 6, 5))
    book.do(issue_invoice, invoice("C", "205.00", date(2026, 7, 30), issue=date(2026, 6, 5)))
    assert book.ledger.summary(date(2026, 6, 30), "EUR").opening_ar == 0
    assert book.ledger.summary(date(2026, 7, 31), "EUR").opening_ar == D("205.00")
