"""Phases of a receivable by days past due (DOMAIN.md §2), with the tenant's windows."""

from __future__ import annotations

from datetime import date, timedelta

from softcollect_events import Phase
from softcollect_runtime.tenants import PhaseWindows

# An item is live (still owed, still aging) exactly while it has an open amount.
LIVE = (Phase.upcoming, Phase.expiring, Phase.just_expired, Phase.handed_over)
TERMINAL = (Phase.settled, Phase.cancelled, Phase.written_off)


def days_past_due(due_date: date, business_date: date) -> int:
    """Calendar days from the due date; negative before it."""
    return (business_date - due_date).days


def phase_for(days: int, windows: PhaseWindows) -> Phase:
    """The live phase an open item is in at `days` past due."""
    if days < windows.expiring_from:
        return Phase.upcoming
    if days < windows.just_expired_from:
        return Phase.expiring
    if days < windows.handed_over_from:
        return Phase.just_expired
    return Phase.handed_over


def next_phase_date(due_date: date, phase: Phase, windows: PhaseWindows) -> date | None:
    """First business date on which an open item now in `phase` moves on by time
    alone; None once handed over (the last live phase)."""
    starts = {
        Phase.upcoming: windows.expiring_from,
        Phase.expiring: windows.just_expired_from,
        Phase.just_expired: windows.handed_over_from,
    }
    offset = starts.get(phase)
    return None if offset is None else due_date + timedelta(days=offset)


def handover_reason(windows: PhaseWindows) -> str:
    return f"more than {windows.handed_over_from - 1} days past due"
