"""What a service's pure domain hands its handlers: an outcome event before its envelope."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from .money import currency_precision


@dataclass(frozen=True)
class Outcome:
    """One outcome event: its type, its JSON-ready payload (valid for `REGISTRY[type].model`)
    and the CloudEvents `subject` (an invoice or payment id; None for debtor- and tenant-level
    events). The service wraps it with `new_event`."""

    type: str
    data: dict[str, Any]
    subject: str | None = None


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_precision(currency))


def format_money(amount: Decimal, currency: str) -> str:
    """The wire's plain decimal string at the currency's precision: "1250.00", JPY "1250"."""
    return format(amount.quantize(_quantum(currency)), "f")
