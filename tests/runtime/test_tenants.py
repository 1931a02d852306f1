"""Tenant configuration: defaults from DOMAIN.md, and errors that name the bad key."""

from decimal import Decimal
from pathlib import Path

import pytest

from softcollect_runtime.tenants import TenantConfigError, load_tenant, load_tenants

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "tenants").mkdir(exist_ok=True)
    p = tmp_path / "tenants" / f"{name}.yaml"
    p.write_text(text)
    return p


def test_shipped_demo_tenant_is_valid_and_simulated():
    tenants = load_tenants(REPO / "config")
    assert tenants["demo"].simulated is True
    assert tenants["demo"].country == "IT"


def test_defaults_are_the_domain_defaults(tmp_path):
    t = load_tenant(write(tmp_path, "acme", "name: Acme\n"))
    assert t.tenantid == "acme"
    assert t.aging.lock_min_amount == Decimal("500.00")
    assert t.aging.payment_tolerance == Decimal("1.00")
    assert t.reminders.minimum_amount == Decimal("5.00")
    assert t.reminders.frequency_cap_days == 3
    assert t.disputes.sla_days == 10
    assert t.disputes.risk_threshold == 70
    assert t.dedup_retention_days == 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: A\ntimezon: Europe/Rome\n", "timezon: unknown key"),
        ("name: A\ntimezone: Mars/Olympus\n", "timezone: Value error, unknown IANA time zone"),
        ("name: A\ncountry: XX\n", "country: Value error, 'XX' is not an ISO 3166-1"),
        ("name: A\naging:\n  lock_min_amount: -1\n",
         "aging.lock_min_amount: Input should be greater than or equal to 0"),
        ("name: A\naging:\n  unmatched_cash: somewhere\n", "aging.unmatched_cash"),
        ("name: A\nreminders:\n  frequency_cap_days: -1\n",
         "reminders.frequency_cap_days: Input should be greater than or equal to 0"),
        ("timezone: Europe/Rome\n", "name: Field required"),
        ("- just\n- a list\n", "expected a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_files_name_the_key(tmp_path, text, expected):
    path = write(tmp_path, "acme", text)
    with pytest.raises(TenantConfigError) as err:
        load_tenant(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_tenantid_must_match_the_file_name(tmp_path):
    with pytest.raises(TenantConfigError, match="differs from the file name"):
        load_tenant(write(tmp_path, "acme", "tenantid: other\nname: A\n"))
