"""Reminders' settings (SMTP, sender pacing, templates) and each tenant's effective policy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from softcollect_runtime.settings import ServiceSettings
from softcollect_runtime.tenants import TenantConfig, load_tenants

from .domain import Policy, PolicyError, parse_overrides, policy_for
from .mailer import SmtpSettings


class SmtpEnv(BaseSettings):
    """The SMTP server reminders send through (`SOFTCOLLECT_SMTP_*`)."""

    model_config = SettingsConfigDict(env_prefix="SOFTCOLLECT_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 2525
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 10.0
    ca_file: str | None = None
    validate_certs: bool = True

    def smtp(self) -> SmtpSettings:
        return SmtpSettings(**self.model_dump())


class SenderSettings(BaseSettings):
    """The mail sender's pacing (`SOFTCOLLECT_MAIL_*`): attempts per message and the backoff between them."""

    model_config = SettingsConfigDict(env_prefix="SOFTCOLLECT_MAIL_", extra="ignore")

    max_attempts: int = Field(5, ge=1, description="SMTP attempts of one message before `reminder.failed` for good")
    backoff_seconds: float = Field(30.0, gt=0, description="first retry delay; doubles per attempt")
    max_backoff_seconds: float = Field(3600.0, gt=0)
    poll_seconds: float = Field(1.0, gt=0, description="how often the sender looks for due messages when idle")
    batch_size: int = Field(50, ge=1)
    lease_seconds: float = Field(120.0, gt=0, description="an attempt not recorded by then is retried (crash recovery)")
    default_sender: str = Field("softcollect <reminders@softcollect.invalid>",
                                description="From when the tenant sets no `reminders.sender`")


class ReminderSettings(ServiceSettings):
    smtp: SmtpEnv = Field(default_factory=SmtpEnv)
    mail: SenderSettings = Field(default_factory=SenderSettings)
    templates_dir: Path | None = Field(
        None, description="tenants' own templates: <dir>/<tenantid>/<lang>/<name>.j2 (default <config_dir>/templates)")

    def tenant_templates(self) -> Path:
        return self.templates_dir or Path(self.config_dir) / "templates"


class Tenants:
    """Each tenant's configuration and reminders policy per segment, validated on load; an
    unknown tenant re-reads the directory at most every ``reload_seconds``. A tenant without a
    file gets DOMAIN.md's defaults."""

    def __init__(self, settings: ServiceSettings, reload_seconds: float = 5.0) -> None:
        self._dir = settings.config_dir
        self._reload = reload_seconds
        self._load()

    def _load(self) -> None:
        configs = load_tenants(self._dir)
        for tenantid, config in configs.items():  # fail fast, naming the key
            try:
                parse_overrides(_overrides(config), root=f"tenants/{tenantid}.yaml: reminders")
            except PolicyError as exc:
                raise PolicyError(exc.errors) from None
        self._configs: dict[str, TenantConfig] = configs
        self._policies: dict[tuple[str, str | None], Policy] = {}
        self._loaded_at = time.monotonic()

    def configured(self) -> list[str]:
        return sorted(self._configs)

    def config(self, tenantid: str) -> TenantConfig:
        if tenantid not in self._configs and time.monotonic() - self._loaded_at >= self._reload:
            self._load()
        config = self._configs.get(tenantid)
        return config if config is not None else TenantConfig(tenantid=tenantid, name=tenantid)

    def policy(self, tenantid: str, segment: str | None) -> Policy:
        key = (tenantid, segment)
        if key not in self._policies:
            self._policies[key] = policy_for(_overrides(self.config(tenantid)), segment)
        return self._policies[key]


def _overrides(config: TenantConfig) -> dict[str, Any]:
    return config.reminders.model_dump(exclude_unset=True)
