"""Tenant configuration: one ``tenants/<tenantid>.yaml`` per client company in the config
directory (``SOFTCOLLECT_CONFIG_DIR``, default ``config/``), validated on load.

Every default of DOMAIN.md is a field default here, so a tenant file only says
what differs. An unknown or mistyped key fails the load with an error naming it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TENANT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhaseWindows(_Strict):
    """Days past due that open each phase (DOMAIN.md §2)."""

    expiring_from: int = Field(-15, description="first day past due of `expiring` (earlier: `upcoming`)")
    just_expired_from: int = Field(11, description="first day past due of `just_expired`")
    handed_over_from: int = Field(31, description="first day past due of `handed_over`")


class AgingPolicy(_Strict):
    phases: PhaseWindows = PhaseWindows()
    payment_tolerance: Decimal = Field(Decimal("1.00"), ge=0, description="write-off tolerance of cash application")
    unmatched_cash: str = Field("on_account", pattern="^(on_account|oldest_first)$")
    lock_min_amount: Decimal = Field(Decimal("500.00"), ge=0)
    lock_min_days_past_due: int = Field(25, ge=0)


class ReminderPolicy(_Strict):
    """The tenant's `reminders` section. Steps, segments and the other policy keys are
    validated by the reminders service on load (its errors name the bad key, e.g.
    `reminders.steps[2].day`), so they pass through here unchecked."""

    model_config = ConfigDict(extra="allow", frozen=True)

    minimum_amount: Decimal = Field(Decimal("5.00"), ge=0)
    frequency_cap_days: int = Field(3, ge=0)
    promise_grace_days: int = Field(2, ge=0)
    resubmission_quiet_days: int = Field(5, ge=0)
    sender: str | None = Field(None, description="From of the tenant's e-mails, e.g. `Acme <credit@acme.example>`")
    reply_to: str | None = Field(None, description="Reply-To of the tenant's e-mails")


class DisputePolicy(_Strict):
    sla_days: int = Field(10, ge=1)
    risk_threshold: int = Field(70, ge=0, le=100)


class PlanPolicy(_Strict):
    installment_grace_days: int = Field(3, ge=0)
    allowed_misses: int = Field(0, ge=0, le=1)


class ApiKey(_Strict):
    """An HTTP intake key, stored as a hash only (scrypt; see ingest's docs)."""

    name: str
    hash: str


class TenantConfig(_Strict):
    tenantid: str
    name: str
    timezone: str = "Europe/Rome"
    country: str = Field("IT", description="ISO 3166-1 alpha-2; its public holidays are not business days")
    language: str = Field("it", description="default language of debtors (BCP 47)")
    currency: str = "EUR"
    simulated: bool = Field(False, description="clock.tick comes from the client (a replay or a demo)")
    business_day_start: dt.time = Field(dt.time(6, 0), description="local time of the daily clock.tick")
    dedup_retention_days: int = Field(30, ge=1)
    api_keys: list[ApiKey] = []
    aging: AgingPolicy = AgingPolicy()
    reminders: ReminderPolicy = ReminderPolicy()
    disputes: DisputePolicy = DisputePolicy()
    plans: PlanPolicy = PlanPolicy()

    @field_validator("tenantid")
    @classmethod
    def _tenant_id(cls, v: str) -> str:
        if not TENANT_ID.match(v):
            raise ValueError("must be 1-64 characters of A-Z a-z 0-9 . _ -")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        if v not in holidays.list_supported_countries():
            raise ValueError(f"{v!r} is not an ISO 3166-1 alpha-2 code with a holiday calendar")
        return v


class TenantConfigError(ValueError):
    """A tenant file that does not validate; the message names the file and each bad key."""


def _format(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid tenant configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(file)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def load_tenant(path: Path) -> TenantConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TenantConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise TenantConfigError(f"{path}: expected a mapping of keys at the top level")
    raw.setdefault("tenantid", path.stem)
    if raw["tenantid"] != path.stem:
        raise TenantConfigError(f"{path}: tenantid: {raw['tenantid']!r} differs from the file name {path.stem!r}")
    try:
        return TenantConfig.model_validate(raw)
    except ValidationError as err:
        raise TenantConfigError(_format(path, err)) from None


def load_tenants(config_dir: Path) -> dict[str, TenantConfig]:
    """Every tenant of the directory; the first invalid file stops the load (fail fast, say where)."""
    tenants_dir = Path(config_dir) / "tenants"
    return {p.stem: load_tenant(p) for p in sorted(tenants_dir.glob("*.yaml"))}
