"""What a decision tells the world: small records the service turns into
CloudEvents. Each `data` is JSON-ready (money and dates as strings) and
validates against `softcollect_events.REGISTRY[type].model`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from softcollect_events import currency_precision


@dataclass(frozen=True)
class Outcome:
    """One outcome event: its type, its payload and the CloudEvents `subject`
    (the invoice id when the outcome concerns one invoice; None for debtor-level ones)."""

    type: str
    data: dict[str, Any]
    subject: str | None = None


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_precision(currency))


def money(amount: Decimal, currency: str) -> str:
    """The wire's plain decimal string at the currency's precision: "1250.00", JPY "1250"."""
    return format(amount.quantize(_quantum(currency)), "f")


def subject_of(invoice_ids: list[str]) -> str | None:
    return invoice_ids[0] if len(invoice_ids) == 1 else None
