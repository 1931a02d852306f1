"""Aging's settings and the tenants' aging policies."""

from __future__ import annotations

from softcollect_runtime.settings import ServiceSettings
from softcollect_runtime.tenants import AgingPolicy, TenantConfig, load_tenants


class AgingSettings(ServiceSettings):
    pass


class Policies:
    """Each tenant's aging policy (DOMAIN.md defaults for a tenant without a file), re-read on a miss."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._dir = settings.config_dir
        self._tenants: dict[str, TenantConfig] = load_tenants(self._dir)

    def aging(self, tenantid: str) -> AgingPolicy:
        if tenantid not in self._tenants:
            self._tenants = load_tenants(self._dir)
        config = self._tenants.get(tenantid)
        return config.aging if config else AgingPolicy()
