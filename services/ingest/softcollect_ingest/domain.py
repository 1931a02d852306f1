"""Ingest's rules, pure: which inbound events pass the gate and why the others do not.

The contract's own checks (envelope, types, money, installments) are
``softcollect_events.decode``'s; here are the gate's: tenant isolation, what a
client may send, and the business clock's rules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

import holidays

from softcollect_events import REGISTRY, TENANT_CUSTOMERID, CloudEvent, Reason

UNKNOWN_TENANT = "_unknown"  # an input that reached ingest on no tenant's channel
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class TenantFacts:
    """What the gate needs to know of a tenant (a projection of its configuration)."""

    tenantid: str
    simulated: bool


def tenant_of_topic(topic: str, prefix: str) -> str | None:
    """``softcollect.inbound.acme`` → ``acme``; None for any other topic."""
    head = f"{prefix}inbound."
    if not topic.startswith(head):
        return None
    rest = topic[len(head):]
    return rest if _ID.match(rest) else None


def screen(event: CloudEvent, channel_tenant: str | None, tenants: Mapping[str, TenantFacts],
           last_business_date: dt.date | None) -> list[Reason]:
    """Every reason the gate refuses a well-formed event (empty: it passes).

    ``channel_tenant`` is the tenant the event came in for: its inbound topic's, or
    the one the HTTP key or CSV import was authorised for.
    """
    reasons: list[Reason] = []
    if channel_tenant is None or channel_tenant not in tenants:
        reasons.append(Reason(path="$.tenantid",
                              message=f"tenant {channel_tenant!r} is not configured in softcollect"))
    elif event.tenantid != channel_tenant:
        reasons.append(Reason(path="$.tenantid", message=(
            f"tenantid {event.tenantid!r} does not match the channel's tenant {channel_tenant!r}; "
            "a tenant can only send its own events")))
    entry = REGISTRY.get(event.type)
    if entry is not None and not entry.inbound:
        reasons.append(Reason(path="$.type", message=(
            f"{event.type!r} is written by softcollect itself; clients send only the inbound types")))
    if event.type == "clock.tick" and not reasons:
        reasons.extend(screen_tick(event, tenants[channel_tenant], last_business_date))
    return reasons


def screen_tick(event: CloudEvent, tenant: TenantFacts, last_business_date: dt.date | None) -> list[Reason]:
    if not tenant.simulated:
        return [Reason(path="$.type", message=(
            f"tenant {tenant.tenantid!r} has a live clock: softcollect emits its clock.tick itself; "
            "only simulated tenants send ticks"))]
    date = event.data.business_date
    if last_business_date is not None and date <= last_business_date:
        return [Reason(path="$.data.business_date", message=(
            f"business_date {date.isoformat()} does not advance the clock: the tenant's business date "
            f"is already {last_business_date.isoformat()}"))]
    return []


def customer_of(parsed: object) -> str:
    """Best-effort customer of a rejected input, for its Kafka key (tenant-wide if unreadable)."""
    if isinstance(parsed, dict):
        c = parsed.get("customerid")
        if isinstance(c, str) and _ID.match(c):
            return c
    return TENANT_CUSTOMERID


def is_business_day(day: dt.date, country: str) -> bool:
    """Weekends and the country's public holidays are not business days."""
    return day.weekday() < 5 and day not in holidays.country_holidays(country, years=day.year)


def tick_due(local_now: dt.datetime, start_of_day: dt.time, country: str,
             last_business_date: dt.date | None) -> dt.date | None:
    """The business date a live tenant's clock should tick to now, or None.

    One tick per business day, at or after the tenant's start-of-day local time. After an
    outage only today's tick is emitted: the services treat the skipped days as one jump.
    """
    today = local_now.date()
    if local_now.time() < start_of_day or not is_business_day(today, country):
        return None
    if last_business_date is not None and last_business_date >= today:
        return None
    return today


def id_of(parsed: object) -> str | None:
    """The ``id`` a rejected input claimed, if it had a readable one (operators search by it)."""
    if isinstance(parsed, dict) and isinstance(parsed.get("id"), str) and 0 < len(parsed["id"]) <= 255:
        return parsed["id"]
    return None


def type_of(parsed: object) -> str | None:
    if isinstance(parsed, dict) and isinstance(parsed.get("type"), str) and 0 < len(parsed["type"]) <= 100:
        return parsed["type"]
    return None
