"""The business clock of live tenants: one ``clock.tick`` per business day in the tenant's zone.

This is an adapter at the edge, the one place that reads the wall clock; every
service downstream runs on the ticks it emits.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from softcollect_events import TENANT_CUSTOMERID, deterministic_id, new_event
from softcollect_runtime.uow import UnitOfWork

from .config import TenantDirectory
from .domain import tick_due
from .store import IngestRepository

SOURCE = "softcollect/ingest/clock"


async def tick_live_tenants(new_uow, tenants: TenantDirectory, now_utc: dt.datetime) -> list[tuple[str, dt.date]]:
    """Emit the due tick of every live tenant; returns what it emitted."""
    emitted = []
    tenants.refresh()
    for config in tenants.configs.values():
        if config.simulated:
            continue
        local_now = now_utc.astimezone(ZoneInfo(config.timezone))
        uow: UnitOfWork[IngestRepository]
        async with new_uow() as uow:
            date = tick_due(local_now, config.business_day_start, config.country,
                            await uow.repos.business_date(config.tenantid))
            if date is None:
                continue
            await uow.repos.advance_clock(config.tenantid, date)
            uow.emit(new_event("clock.tick", {"business_date": date.isoformat()}, source=SOURCE,
                               tenantid=config.tenantid, customerid=TENANT_CUSTOMERID, time=now_utc,
                               id=deterministic_id("clock", config.tenantid, date.isoformat())))
            await uow.commit()
        emitted.append((config.tenantid, date))
    return emitted
