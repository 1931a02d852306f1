"""Tenant KPIs over per-debtor summaries (DOMAIN.md §10), pure.

- AR (accounts receivable) is the sum of open amounts (gross: unapplied cash
  on account is reported apart, in the snapshots, not netted here).
- Credit sales of a month: invoices issued (by issue date) that month, net of
  cancellations.
- DSO, count-back: from the closing AR walk back month by month, newest first,
  subtracting each month's sales; a month used up whole adds its days, the
  month where the AR runs out adds days × remaining ÷ its sales. The current
  month counts the days elapsed (as_of's day of month), earlier months their
  calendar length.
- Best possible DSO: the same walk over the current (not yet due) AR only.
- Average days delinquent: DSO − best possible DSO, of the published (rounded)
  figures, so the three always add up.
- CEI of as_of's month: (opening AR + sales − closing AR) ÷ (opening AR +
  sales − closing current AR) × 100; absent when the denominator is zero.
- Overdue ratio: overdue ÷ closing AR; 0 when nothing is open (the contract
  makes it required).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .ledger import ZERO, DebtorSummary, Ledger, month_of
from .outcome import Outcome

_DAYS = Decimal("0.1")
_PERCENT = Decimal("0.01")
_RATIO = Decimal("0.0001")


def count_back_dso(closing_ar: Decimal, months: Sequence[tuple[Decimal, int]]) -> Decimal:
    """DSO by the count-back method; `months` newest first as (credit sales, days in the period)."""
    remaining, days = closing_ar, Decimal(0)
    for sales, length in months:
        if remaining <= 0:
            break
        if remaining > sales:
            remaining -= sales
            days += length
        else:
            days += length * remaining / sales
            remaining = ZERO
    return days


def periods(as_of: date, earliest_month: str) -> list[tuple[str, int]]:
    """(month, days) from as_of's month back to `earliest_month`; the current month counts days elapsed."""
    out = [(month_of(as_of), as_of.day)]
    year, month = as_of.year, as_of.month
    while True:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        key = f"{year:04d}-{month:02d}"
        if key < earliest_month:
            return out
        out.append((key, calendar.monthrange(year, month)[1]))


def _round(value: Decimal, quantum: Decimal) -> Decimal:
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded == 0 else rounded


def _text(value: Decimal) -> str:
    return format(value, "f")


def portfolio_kpis(as_of: date, currency: str, debtors: Iterable[Ledger | DebtorSummary],
                   promise_kept_rate: Decimal | None = None, open_disputes: int = 0,
                   mean_dispute_days: Decimal | None = None) -> Outcome:
    """`portfolio.kpis` of one currency over the tenant's debtors (ledgers or their summaries)."""
    summaries = [d.summary(as_of, currency) if isinstance(d, Ledger) else d for d in debtors]
    summaries = [s for s in summaries if s.currency == currency]
    opening = sum((s.opening_ar for s in summaries), ZERO)
    closing = sum((s.closing_ar for s in summaries), ZERO)
    current = sum((s.current_ar for s in summaries), ZERO)
    overdue = sum((s.overdue_ar for s in summaries), ZERO)
    this_month = month_of(as_of)
    sales: dict[str, Decimal] = {}
    for s in summaries:
        for month, amount in s.sales.items():
            if month <= this_month:
                sales[month] = sales.get(month, ZERO) + amount
    series = [(sales.get(month, ZERO), days) for month, days in periods(as_of, min(sales, default=this_month))]
    dso = _round(count_back_dso(closing, series), _DAYS)
    best = _round(count_back_dso(current, series), _DAYS)
    month_sales = sales.get(this_month, ZERO)
    denominator = opening + month_sales - current
    data: dict = {
        "as_of": as_of.isoformat(),
        "currency": currency,
        "dso": _text(dso),
        "best_possible_dso": _text(best),
        "average_days_delinquent": _text(dso - best),
        "overdue_ratio": _text(_round(overdue / closing, _RATIO) if closing else Decimal("0.0000")),
        "open_disputes": open_disputes,
    }
    if denominator:
        data["cei"] = _text(_round((opening + month_sales - closing) / denominator * 100, _PERCENT))
    if promise_kept_rate is not None:
        data["promise_kept_rate"] = _text(promise_kept_rate)
    if mean_dispute_days is not None:
        data["mean_dispute_days"] = _text(mean_dispute_days)
    return Outcome("portfolio.kpis", data, None)
