"""The aging service process."""

from __future__ import annotations

from pathlib import Path

from softcollect_events import Topic
from softcollect_runtime.service import ServiceSpec

from .config import AgingSettings, Policies
from .handlers import make_handlers
from .store import AgingRepository

MIGRATIONS = Path(__file__).parent / "migrations"

CONSUMES = [Topic.invoices, Topic.payments, Topic.customers, Topic.clock, Topic.dispute_cases, Topic.settlements]


def build(settings: AgingSettings | None = None) -> tuple[ServiceSpec, AgingSettings]:
    settings = settings or AgingSettings()
    spec = ServiceSpec(
        name="aging",
        consumes=CONSUMES,
        handlers=make_handlers(Policies(settings)),
        migrations=MIGRATIONS,
        repos_factory=AgingRepository,
        default_web_port=6062,
    )
    return spec, settings
