"""The OpenAPI 3.1 document of ingest's HTTP intake, generated from the contract's models so it
cannot drift; committed at ``services/ingest/openapi.yaml`` and served at ``/v1/openapi.yaml``.

``python -m softcollect_ingest.openapi`` rewrites the committed file; a test fails while it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from softcollect_events import INBOUND_TYPES

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.yaml"


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def document(max_batch: int = 1000, max_body_bytes: int = 1024 * 1024) -> dict:
    inbound = sorted(INBOUND_TYPES)
    event_refs = [{"$ref": f"#/components/schemas/{t}"} for t in inbound]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "softcollect ingest — HTTP intake",
            "version": "1.0.0",
            "description": (
                "Clients without Kafka send the same inbound CloudEvents (structured JSON mode) over HTTP. "
                "Accepted events go to the tenant's inbound topic and travel the Kafka path: validated again, "
                "deduplicated by (tenantid, source, id), routed. A resend of an accepted event is harmless. "
                f"At most {max_batch} events and {max_body_bytes} bytes per request."),
        },
        "paths": {"/v1/events": {"post": {
            "summary": "Submit one inbound event or an array of them",
            "operationId": "submitEvents",
            "security": [{"tenantKey": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                {"$ref": "#/components/schemas/InboundEvent"},
                {"type": "array", "minItems": 1, "maxItems": max_batch,
                 "items": {"$ref": "#/components/schemas/InboundEvent"}}]}}}},
            "responses": {
                "202": {"description": "At least one event accepted; every event has its status.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
                "400": _problem("The body is not JSON, or an empty array."),
                "401": _problem("Missing or invalid API key (the same answer for every failure)."),
                "413": _problem(f"Body over {max_body_bytes} bytes or more than {max_batch} events."),
                "422": _problem("No event was accepted; `results` gives every event's reasons."),
            },
        }}},
        "components": {
            "securitySchemes": {"tenantKey": {
                "type": "http", "scheme": "bearer",
                "description": "A tenant's key `<tenantid>.<secret>` (`softcollect apikey new`); only its hash "
                               "is stored. A key submits for its own tenant only."}},
            "schemas": {
                "InboundEvent": {"oneOf": event_refs, "discriminator": {"propertyName": "type"}},
                **{t: {"$ref": f"../../libs/events/schemas/{t}.json"} for t in inbound},
                "Reason": {"type": "object", "required": ["path", "message"], "properties": {
                    "path": {"type": "string", "description": "JSON path into the event, e.g. `$.data.amount`"},
                    "message": {"type": "string"}}},
                "Result": {"type": "object", "required": ["index", "status"], "properties": {
                    "index": {"type": "integer", "minimum": 0}, "id": {"type": "string"},
                    "status": {"enum": ["accepted", "rejected"]},
                    "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/Reason"}}}},
                "Accepted": {"type": "object", "required": ["accepted", "rejected", "results"], "properties": {
                    "accepted": {"type": "integer"}, "rejected": {"type": "integer"},
                    "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}}}},
                "Problem": {"type": "object", "description": "RFC 9457 problem details",
                            "required": ["type", "title", "status"], "properties": {
                                "type": {"type": "string"}, "title": {"type": "string"},
                                "status": {"type": "integer"}, "detail": {"type": "string"},
                                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}}}},
            },
        },
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=110)


if __name__ == "__main__":
    COMMITTED.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {COMMITTED}\n")
