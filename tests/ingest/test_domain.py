"""Ingest's pure rules with explicit dates: the gate and the business clock."""

from __future__ import annotations

import datetime as dt

import pytest

from softcollect_ingest.domain import TenantFacts, is_business_day, screen, tenant_of_topic, tick_due
from tests.ingest.harness import event

TENANTS = {"acme": TenantFacts("acme", simulated=False), "sim": TenantFacts("sim", simulated=True)}
START = dt.time(6, 0)


def at(day: str, hhmm: str = "07:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00")


@pytest.mark.parametrize(("topic", "tenant"), [
    ("softcollect.inbound.acme", "acme"), ("softcollect.inbound.a.b-c_d", "a.b-c_d"),
    ("softcollect.invoices", None), ("other.inbound.acme", None), ("softcollect.inbound.", None),
])
def test_tenant_of_topic(topic, tenant):
    assert tenant_of_topic(topic, "softcollect.") == tenant


def test_a_well_formed_event_of_its_own_tenant_passes():
    assert screen(event("invoice.issued"), "acme", TENANTS, None) == []


def test_every_gate_reason_is_reported():
    ev = event("payment.unmatched", tenant="sim")
    reasons = screen(ev, "acme", TENANTS, None)
    assert [r.path for r in reasons] == ["$.tenantid", "$.type"]


@pytest.mark.parametrize(("last", "date", "ok"), [
    (None, "2026-03-02", True), ("2026-03-01", "2026-03-02", True),
    ("2026-03-02", "2026-03-02", False), ("2026-03-03", "2026-03-02", False),
])
def test_simulated_ticks_must_advance(last, date, ok):
    tick = event("clock.tick", tenant="sim", customer="_tenant", business_date=date)
    last_date = dt.date.fromisoformat(last) if last else None
    assert (screen(tick, "sim", TENANTS, last_date) == []) is ok


def test_live_tenants_do_not_take_ticks_from_clients():
    tick = event("clock.tick", customer="_tenant", business_date="2026-03-02")
    [reason] = screen(tick, "acme", TENANTS, None)
    assert reason.path == "$.type" and "live clock" in reason.message


@pytest.mark.parametrize(("day", "country", "business"), [
    ("2026-03-02", "IT", True),    # a Monday
    ("2026-03-07", "IT", False),   # Saturday
    ("2026-03-08", "IT", False),   # Sunday
    ("2026-04-25", "IT", False),   # Festa della Liberazione (a Saturday in 2026 anyway)
    ("2026-06-02", "IT", False),   # Festa della Repubblica, a Tuesday
    ("2026-06-02", "DE", True),
    ("2026-10-03", "DE", False),   # Tag der Deutschen Einheit (Saturday)
    ("2026-12-08", "IT", False),   # Immacolata, a Tuesday
])
def test_business_days_follow_the_country(day, country, business):
    assert is_business_day(dt.date.fromisoformat(day), country) is business


def test_one_tick_per_business_day_at_the_start_of_day():
    assert tick_due(at("2026-03-02", "05:59"), START, "IT", None) is None
    assert tick_due(at("2026-03-02", "06:00"), START, "IT", None) == dt.date(2026, 3, 2)
    assert tick_due(at("2026-03-02", "18:00"), START, "IT", dt.date(2026, 3, 2)) is None
    assert tick_due(at("2026-03-03", "06:30"), START, "IT", dt.date(2026, 3, 2)) == dt.date(2026, 3, 3)


def test_no_tick_on_weekends_and_holidays_and_one_jump_after_an_outage():
    assert tick_due(at("2026-03-07"), START, "IT", dt.date(2026, 3, 6)) is None
    assert tick_due(at("2026-06-02"), START, "IT", dt.date(2026, 6, 1)) is None
    # down from Wednesday to the next Monday: one tick, for today
    assert tick_due(at("2026-03-09"), START, "IT", dt.date(2026, 3, 4)) == dt.date(2026, 3, 9)
