"""The AsyncAPI 3.0 document of softcollect's topics, built from the registry."""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .codec import CONTENT_TYPE
from .envelope import TENANT_CUSTOMERID
from .examples import example_event
from .registry import REGISTRY, EventType
from .scalars import PARTITION_ID_PATTERN
from .topics import DEFAULT_PREFIX, WRITERS, Topic

SCHEMA_DIR = "schemas"

INFO = f"""\
softcollect's public event contract: what clients send (invoices, payments,
credit notes, disputes, collector activity) and what softcollect streams back
(aging, reconciliation, reminders, positions, disputes, promises, plans,
settlements, KPIs).

**Envelope.** Every Kafka message value is one UTF-8 JSON object, a
CloudEvents 1.0 event in structured mode (`content-type:
{CONTENT_TYPE}`), with the extensions `tenantid`, `customerid`,
`schemaversion`, `causationid` and `correlationid`. Unknown attributes and
unknown `data` fields are rejected. Money is a JSON string holding a decimal
(`"1250.00"`), never a number, with no more decimals than its ISO 4217
currency allows; dates are `YYYY-MM-DD`; `time` is RFC 3339 with an offset.

**Delivery guarantees.** Delivery is at-least-once: a consumer may see an
event more than once, and producers may resend. Processing is idempotent by
`source` + `id`: a redelivered or resent event with the same pair has no
second effect. Services that replay their input re-emit the same `id`.

**Keys and ordering.** The Kafka key of every message on every topic is
`<tenantid>:<customerid>`. All topics have the same partition count, so
everything about one debtor is co-partitioned and ordered. Tenant-wide events
(`clock.tick`, `portfolio.kpis`) use the customerid `{TENANT_CUSTOMERID}`.

**Topics.** The prefix `{DEFAULT_PREFIX}` is configurable. Each topic has
exactly one writer. Clients write to `{DEFAULT_PREFIX}inbound.<tenantid>`
(or `POST /v1/events`, or CSV); ingest validates, rejects with every reason
on `{DEFAULT_PREFIX}rejected`, and forwards accepted events to their
canonical topic. Each service's unprocessable messages go to
`{DEFAULT_PREFIX}<service>.dlq`.

**Versioning.** Changes only add optional fields or new types. A breaking
change to a type's `data` raises its `schemaversion`; older versions are
upcast on ingest. Payload schemas: `{SCHEMA_DIR}/<type>.json` (JSON Schema
draft-07)."""

_KEY_SCHEMA = {
    "type": "string",
    "pattern": f"^{PARTITION_ID_PATTERN}:{PARTITION_ID_PATTERN}$",
    "description": "`<tenantid>:<customerid>`; co-partitions and orders everything about one debtor.",
    "examples": ["acme:C-1001"],
}


def _title(type_name: str) -> str:
    return type_name.replace(".", " ").replace("_", " ").capitalize()


def _message(entry: EventType) -> dict[str, Any]:
    doc = entry.description
    return {
        "name": entry.type,
        "title": _title(entry.type),
        "summary": doc.split("\n\n")[0].replace("\n", " ").split(". ")[0].rstrip(".") + ".",
        "description": " ".join(doc.split()),
        "contentType": CONTENT_TYPE,
        "headers": {
            "type": "object",
            "properties": {
                "content-type": {"type": "string", "const": CONTENT_TYPE},
                "ce_type": {"type": "string", "const": entry.type},
                "ce_id": {"type": "string", "description": "Copy of the event `id`, for observability."},
            },
        },
        "payload": {"$ref": f"./{SCHEMA_DIR}/{entry.type}.json"},
        "bindings": {"kafka": {"key": _KEY_SCHEMA, "bindingVersion": "0.5.0"}},
        "examples": [
            {
                "name": entry.type.replace(".", "-"),
                "payload": example_event(entry.type).model_dump(mode="json", by_alias=True, exclude_none=True),
            }
        ],
    }


def _types_on(topic: Topic) -> list[EventType]:
    if topic is Topic.inbound:
        return sorted((e for e in REGISTRY.values() if e.inbound), key=lambda e: e.type)
    return sorted((e for e in REGISTRY.values() if e.topic is topic), key=lambda e: e.type)


def _channel(topic: Topic) -> dict[str, Any]:
    types = _types_on(topic)
    listing = ", ".join(f"`{e.type}`" for e in types)
    channel: dict[str, Any] = {
        "title": f"{topic.value} topic",
        "description": (
            f"Written by {'clients' if topic is Topic.inbound else WRITERS[topic]}. Carries {listing}. "
            "Kafka key `<tenantid>:<customerid>`."
        ),
    }
    if topic is Topic.inbound:
        channel["address"] = f"{DEFAULT_PREFIX}inbound.{{tenantid}}"
        channel["parameters"] = {
            "tenantid": {
                "description": "The client's tenant id; ingest rejects events whose `tenantid` differs. "
                "Per-tenant topics let Kafka ACLs isolate tenants.",
                "examples": ["acme"],
            }
        }
        channel["description"] += " One topic per tenant; also reachable as `POST /v1/events` and CSV upload."
    else:
        channel["address"] = f"{DEFAULT_PREFIX}{topic.value}"
    channel["messages"] = {e.type: {"$ref": f"#/components/messages/{e.type}"} for e in types}
    return channel


def _dlq_channel() -> dict[str, Any]:
    return {
        "address": f"{DEFAULT_PREFIX}{{service}}.dlq",
        "title": "dead-letter topics",
        "description": "Messages a service could not process, with the error. Internal; keyed like the input.",
        "parameters": {"service": {"description": "Name of the service, e.g. `aging`.", "examples": ["aging"]}},
    }


def _operation(name: str, topic: Topic | None) -> dict[str, Any]:
    if topic is None:
        return {
            "action": "send",
            "channel": {"$ref": "#/channels/dlq"},
            "summary": "softcollect's services park messages they cannot process.",
        }
    receive = topic is Topic.inbound
    return {
        "action": "receive" if receive else "send",
        "channel": {"$ref": f"#/channels/{name}"},
        "summary": (
            "softcollect receives clients' events."
            if receive
            else f"softcollect ({WRITERS[topic]}) publishes on {DEFAULT_PREFIX}{topic.value}."
        ),
        "messages": [{"$ref": f"#/channels/{name}/messages/{e.type}"} for e in _types_on(topic)],
    }


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {t.name: _channel(t) for t in Topic}
    channels["dlq"] = _dlq_channel()
    operations: dict[str, Any] = {
        f"{'receive' if t is Topic.inbound else 'send'}_{t.name}": _operation(t.name, t) for t in Topic
    }
    operations["send_dlq"] = _operation("dlq", None)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "softcollect events", "version": __version__, "description": INFO},
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": {t: _message(REGISTRY[t]) for t in sorted(REGISTRY)}},
    }
