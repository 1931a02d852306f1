"""Ingest's settings (beyond the runtime's) and its view of the tenant directory."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import Field

from softcollect_runtime.settings import ServiceSettings
from softcollect_runtime.tenants import TenantConfig, TenantConfigError, load_tenants

from .domain import TenantFacts


class IngestSettings(ServiceSettings):
    # The gate only validates and forwards: larger transactions and relay passes than the other
    # services' (the benchmark: ~176 µs of CPU per event at 1,000, ~200 µs at 500).
    batch_size: int = Field(1000, ge=1, le=10_000)
    outbox_batch_size: int = Field(1000, ge=1)
    # aiohttp's own request limit is 1 MiB; 1,000 typical events fit well within it.
    http_max_body_bytes: int = Field(1024 * 1024, ge=1024, le=1024 * 1024, description="413 above this")
    max_event_bytes: int = Field(256 * 1024, ge=1024, description="a single event larger than this is rejected")
    http_max_batch: int = Field(1000, ge=1, description="events in one POST /v1/events")
    clock_check_seconds: float = Field(30.0, gt=0, description="how often live tenants' clocks are checked")
    tenant_reload_seconds: float = Field(
        5.0, ge=0, description="an unknown tenant reloads the directory at most this often")


class TenantDirectory:
    """The configured tenants, re-read when an unknown tenant shows up (so a new tenant's file and
    topic need no restart), at most every ``reload_seconds``. A broken file keeps the last good view."""

    def __init__(self, config_dir: Path, reload_seconds: float = 5.0) -> None:
        self._dir = Path(config_dir)
        self._reload = reload_seconds
        self._loaded_at = float("-inf")
        self.configs: dict[str, TenantConfig] = {}
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._loaded_at < self._reload:
            return
        self._loaded_at = now
        try:
            self.configs = load_tenants(self._dir)
        except TenantConfigError:
            if force and not self.configs:
                raise

    def facts(self, tenantid: str | None) -> dict[str, TenantFacts]:
        if tenantid is not None and tenantid not in self.configs:
            self.refresh()
        return {t: TenantFacts(t, c.simulated) for t, c in self.configs.items()}

    def get(self, tenantid: str) -> TenantConfig | None:
        if tenantid not in self.configs:
            self.refresh()
        return self.configs.get(tenantid)
