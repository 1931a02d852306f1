"""Business days of a debtor's country: not a weekend, not a public holiday (`holidays`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _calendar(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country)


def business_days(country: str | None, fallback: str) -> Callable[[date], bool]:
    """`is_business_day` for a debtor of `country` (the tenant's country when unknown or without
    a holiday calendar)."""
    code = country if country and country in holidays.list_supported_countries() else fallback
    calendar = _calendar(code)

    def is_business_day(day: date) -> bool:
        return day.weekday() < 5 and day not in calendar

    return is_business_day
