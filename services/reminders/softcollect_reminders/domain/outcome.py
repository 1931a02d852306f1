"""What a decision tells the world: small records the service turns into
CloudEvents. Each `data` is JSON-ready (money and dates as strings) and
validates against `softcollect_events.REGISTRY[type].model`."""

from __future__ import annotations

# Shared by every service's domain; re-exported for this domain's modules.
from softcollect_events import Outcome as Outcome
from softcollect_events import format_money

money = format_money  # the domain's short name for the wire's money string


def subject_of(invoice_ids: list[str]) -> str | None:
    return invoice_ids[0] if len(invoice_ids) == 1 else None
