"""Building new events: ids and causation chains."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from .envelope import CloudEvent
from .registry import REGISTRY

# Fixed forever: changing it would change every deterministic id and break
# idempotent re-emission across versions.
_NAMESPACE = uuid.UUID("d316d4b1-f563-5c68-ad7a-54837218602c")


def deterministic_id(*parts: str) -> str:
    """uuid5 of the parts, for services that must emit the same event id again
    when they replay the same input (e.g. `deterministic_id("aging", cause.id, "opened", invoice_id)`)."""
    if not parts:
        raise ValueError("deterministic_id needs at least one part")
    # unit separator: ("a", "bc") and ("ab", "c") must not collide
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def new_event(
    type: str,
    data: BaseModel | dict[str, Any],
    *,
    source: str,
    tenantid: str | None = None,
    customerid: str | None = None,
    time: datetime | str,
    subject: str | None = None,
    caused_by: CloudEvent | None = None,
    id: str | None = None,
) -> CloudEvent:
    """A validated event of the current schemaversion. `tenantid` and
    `customerid` default to the cause's; `causationid` is the cause's id and
    `correlationid` the cause's correlationid, or its id when it has none.
    Pass `id` (see `deterministic_id`) when a replay must re-emit the same id."""
    entry = REGISTRY.get(type)
    if entry is None:
        raise ValueError(f"unknown event type {type!r}")
    if caused_by is not None:
        tenantid = tenantid or caused_by.tenantid
        customerid = customerid or caused_by.customerid
        if tenantid != caused_by.tenantid:
            raise ValueError("an event cannot be caused by another tenant's event")
    if tenantid is None or customerid is None:
        raise ValueError("tenantid and customerid are required without caused_by")
    return CloudEvent.model_validate(
        {
            "specversion": "1.0",
            "id": id or str(uuid.uuid4()),
            "source": source,
            "type": type,
            "time": time,
            "tenantid": tenantid,
            "customerid": customerid,
            "schemaversion": entry.schemaversion,
            "subject": subject,
            "causationid": caused_by.id if caused_by else None,
            "correlationid": (caused_by.correlationid or caused_by.id) if caused_by else None,
            "datacontenttype": "application/json",
            "data": data,
        }
    )
