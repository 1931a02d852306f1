"""One self-contained JSON Schema (draft-07) per event type: the envelope
with that type's `data` inlined.

Draft-07 rather than 2020-12 because AsyncAPI 3.0 payloads and the
CloudEvents schema are draft-07; pydantic's output only needs `$defs`
renamed to `definitions` to be valid draft-07.
"""

from __future__ import annotations

import json
from typing import Any

from .envelope import CloudEvent
from .examples import example_events
from .registry import REGISTRY

DRAFT = "http://json-schema.org/draft-07/schema#"


def event_schema(type: str) -> dict[str, Any]:
    entry = REGISTRY[type]
    schema = CloudEvent[entry.model].model_json_schema(ref_template="#/definitions/{model}")
    definitions = schema.pop("$defs", {})
    props = schema["properties"]
    data = definitions.pop(entry.model.__name__)
    props["data"] = data
    props["type"] = {"const": type, "type": "string", "description": "Event type."}
    props["schemaversion"].update(
        maximum=entry.schemaversion,
        description=f"Version of `data`'s schema; this document describes version {entry.schemaversion}. "
        "Older versions are upcast on ingest.",
    )
    if not entry.inbound and type != "event.rejected":
        schema["required"] = sorted({*schema["required"], "causationid"})
        cause = props["causationid"]
        props["causationid"] = {**cause.pop("anyOf")[0], "description": cause["description"], "title": cause["title"]}
    if _references(schema, "#/definitions/"):
        schema["definitions"] = definitions
    schema["$schema"] = DRAFT
    schema["title"] = type
    schema["description"] = f"{type}: {' '.join(entry.description.split())}"
    schema = _wrap_refs(schema)
    schema["examples"] = [e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in example_events(type)]
    return schema


def _wrap_refs(node: Any) -> Any:
    # draft-07 ignores keywords beside "$ref"; wrapping keeps the descriptions
    if isinstance(node, dict):
        node = {k: _wrap_refs(v) for k, v in node.items()}
        if "$ref" in node and len(node) > 1:
            return {"allOf": [{"$ref": node.pop("$ref")}], **node}
        return node
    if isinstance(node, list):
        return [_wrap_refs(v) for v in node]
    return node


def _references(node: Any, prefix: str) -> bool:
    if isinstance(node, dict):
        return any(
            (k == "$ref" and isinstance(v, str) and v.startswith(prefix)) or _references(v, prefix)
            for k, v in node.items()
        )
    if isinstance(node, list):
        return any(_references(v, prefix) for v in node)
    return False


def render(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, fixed indentation, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
