"""The ingest service process: the pattern subscription to every tenant's inbound topic,
HTTP intake, the live clock and the deduplication retention."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from softcollect_events import topic_name
from softcollect_runtime.db import utcnow
from softcollect_runtime.service import ServiceSpec

from . import http
from .clock import tick_live_tenants
from .config import IngestSettings, TenantDirectory
from .handlers import Intake
from .store import IngestRepository

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: IngestSettings | None = None) -> tuple[ServiceSpec, IngestSettings]:
    settings = settings or IngestSettings()
    tenants = TenantDirectory(settings.config_dir, settings.tenant_reload_seconds)

    def configure(app, runtime) -> None:
        http.register(app, runtime, settings, tenants)

        @app.timer(settings.clock_check_seconds)
        async def live_clock():
            await runtime.start()
            await tick_live_tenants(runtime.new_uow, tenants, utcnow())
            runtime.relay.wake()

        @app.timer(3600.0)
        async def dedup_retention():
            await runtime.start()
            for config in tenants.configs.values():
                async with runtime.new_uow() as uow:
                    await uow.repos.forget_accepted_before(
                        config.tenantid, utcnow() - dt.timedelta(days=config.dedup_retention_days))
                    await uow.commit()

    spec = ServiceSpec(
        name="ingest",
        consumes=[],
        handlers={},
        consume_pattern=f"^{re.escape(settings.topic_prefix)}inbound\\..+$",
        intake=lambda runtime: Intake(tenants, settings.topic_prefix, settings.max_event_bytes),
        migrations=MIGRATIONS,
        repos_factory=IngestRepository,
        configure_app=configure,
        extra_topics=lambda: [topic_name("inbound", settings.topic_prefix, tenantid=t) for t in tenants.configs],
        default_web_port=6061,
    )
    return spec, settings
