"""Aging's settings and the tenants' aging policies."""

from __future__ import annotations

import time

from softcollect_runtime.settings import ServiceSettings
from softcollect_runtime.tenants import AgingPolicy, TenantConfig, load_tenants


class AgingSettings(ServiceSettings):
    pass


class Policies:
    """Each tenant's aging policy (DOMAIN.md defaults for a tenant without a file). An unknown
    tenant re-reads the directory, at most every ``reload_seconds``."""

    def __init__(self, settings: ServiceSettings, reload_seconds: float = 5.0) -> None:
        self._dir = settings.config_dir
        self._tenants: dict[str, TenantConfig] = load_tenants(self._dir)
        self._reload = reload_seconds
        self._loaded_at = time.monotonic()

    def aging(self, tenantid: str) -> AgingPolicy:
        if tenantid not in self._tenants and time.monotonic() - self._loaded_at >= self._reload:
            self._tenants = load_tenants(self._dir)
            self._loaded_at = time.monotonic()
        config = self._tenants.get(tenantid)
        return config.aging if config else AgingPolicy()
