"""Complete example envelopes built from each model's `examples`, for docs,
tests and client onboarding. Deterministic, so generated files are stable."""

from __future__ import annotations

from typing import Any

from .build import deterministic_id
from .envelope import TENANT_CUSTOMERID, CloudEvent
from .registry import REGISTRY
from .topics import WRITERS

EXAMPLE_TENANT = "acme"
EXAMPLE_CUSTOMER = "C-1001"
EXAMPLE_TIME = "2024-06-03T08:00:00Z"
_TENANT_WIDE = frozenset({"clock.tick", "portfolio.kpis"})


def example_data(type: str) -> list[dict[str, Any]]:
    """The `examples` of the type's payload model."""
    return list(REGISTRY[type].model.model_config["json_schema_extra"]["examples"])


def example_event(type: str, index: int = 0) -> CloudEvent:
    entry = REGISTRY[type]
    outcome = not entry.inbound
    cause = deterministic_id("example-cause", type)
    return CloudEvent.model_validate(
        {
            "specversion": "1.0",
            "id": deterministic_id("example", type, str(index)),
            "source": f"softcollect/{WRITERS[entry.topic]}" if outcome else "erp/acme-sap",
            "type": type,
            "time": EXAMPLE_TIME,
            "tenantid": EXAMPLE_TENANT,
            "customerid": TENANT_CUSTOMERID if type in _TENANT_WIDE else EXAMPLE_CUSTOMER,
            "schemaversion": entry.schemaversion,
            "causationid": cause if outcome else None,
            "correlationid": cause if outcome else None,
            "datacontenttype": "application/json",
            "data": example_data(type)[index],
        }
    )


def example_events(type: str) -> list[CloudEvent]:
    return [example_event(type, i) for i in range(len(example_data(type)))]
