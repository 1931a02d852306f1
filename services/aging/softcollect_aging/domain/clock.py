"""The daily tick: phases move by days past due alone (DOMAIN.md §2)."""

from __future__ import annotations

from datetime import date

from softcollect_events import Phase
from softcollect_runtime.tenants import AgingPolicy

from . import outcome
from .ledger import Ledger
from .outcome import Outcome
from .phases import days_past_due, handover_reason, phase_for


def tick(ledger: Ledger, business_date: date, policy: AgingPolicy) -> list[Outcome]:
    """Move every open item to the phase its age says. Days skipped (ticks that
    jump) move an item straight to its current phase in one `phase_changed`;
    entering `handed_over` also emits `receivable.handed_over`. Holds whose
    `until` has passed end here."""
    ledger.see_date(business_date)
    ledger.holds = {k: h for k, h in ledger.holds.items() if h.active(business_date)}
    out = []
    for item in ledger.open_items():
        days = days_past_due(item.due_date, business_date)
        phase = phase_for(days, policy.phases)
        if phase == item.phase:
            continue
        before, item.phase = item.phase, phase
        out.append(outcome.phase_changed(item, before, days))
        if phase == Phase.handed_over:
            out.append(outcome.receivable_handed_over(item, days, handover_reason(policy.phases)))
    return out
