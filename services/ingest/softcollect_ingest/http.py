"""HTTP intake for clients without Kafka: ``POST /v1/events`` with one CloudEvent or a JSON
array of them. Accepted events go to the tenant's inbound topic — the very path of Kafka
clients, so ingest validates and deduplicates them again there; rejected ones are kept
(``event.rejected``) and reported per event. Errors are RFC 9457 problem details."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from faust.web import Request, Response, View

from softcollect_events import DecodeError, Reason, decode_object, deterministic_id, topic_name
from softcollect_runtime.db import utcnow

from . import metrics
from .auth import KeyVerifier, tenant_prefix
from .config import IngestSettings, TenantDirectory
from .domain import customer_of, id_of, screen, type_of
from .handlers import reject
from .openapi import render

PROBLEM = "application/problem+json"


def problem(view: View, status: int, title: str, detail: str, **extra: Any) -> Response:
    metrics.HTTP_REQUESTS.labels(str(status)).inc()
    body = {"type": f"https://softcollect.dev/problems/{title.lower().replace(' ', '-')}", "title": title,
            "status": status, "detail": detail, **extra}
    return view.json(body, status=status, content_type=PROBLEM)


def register(app, runtime, settings: IngestSettings, tenants: TenantDirectory) -> None:
    keys = KeyVerifier()
    spec = render()

    @app.page("/v1/openapi.yaml")
    async def openapi(web, request):
        return web.text(spec, content_type="application/yaml")

    @app.page("/v1/events")
    class Events(View):
        async def post(self, request: Request) -> Response:
            await runtime.start()
            auth = request.headers.get("Authorization", "")
            key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            claimed = tenant_prefix(key) if key else None
            tenantid = keys.tenant_for(key, tenants.get(claimed)) if claimed else None
            if tenantid is None:  # one answer for every failure: no hint which tenants exist
                return problem(self, 401, "Unauthorized", "a valid API key is required: Authorization: Bearer <key>")
            if (request.content_length or 0) > settings.http_max_body_bytes:
                return problem(self, 413, "Payload too large",
                               f"the body may be at most {settings.http_max_body_bytes} bytes")
            try:
                body = await request.read()
            except Exception:  # aiohttp's own size guard
                return problem(self, 413, "Payload too large",
                               f"the body may be at most {settings.http_max_body_bytes} bytes")
            if len(body) > settings.http_max_body_bytes:
                return problem(self, 413, "Payload too large",
                               f"the body may be at most {settings.http_max_body_bytes} bytes")
            try:
                parsed = json.loads(body)
            except (UnicodeDecodeError, ValueError) as exc:
                return problem(self, 400, "Malformed request", f"the body is not JSON: {exc}")
            items = parsed if isinstance(parsed, list) else [parsed]
            if not items:
                return problem(self, 400, "Malformed request", "the array holds no event")
            if len(items) > settings.http_max_batch:
                return problem(self, 413, "Batch too large",
                               f"{len(items)} events in one request; at most {settings.http_max_batch}")
            results = await intake_batch(runtime, settings, tenants, tenantid, items,
                                         hashlib.sha256(body).hexdigest())
            accepted = sum(r["status"] == "accepted" for r in results)
            if accepted == 0:
                return problem(self, 422, "Events rejected", "no event of the request was accepted",
                               accepted=0, rejected=len(results), results=results)
            metrics.HTTP_REQUESTS.labels("202").inc()
            return self.json({"accepted": accepted, "rejected": len(results) - accepted, "results": results},
                             status=202)


async def intake_batch(runtime, settings: IngestSettings, tenants: TenantDirectory, tenantid: str,
                       items: list[Any], request_digest: str) -> list[dict]:
    """Validate each event; queue the good ones on the tenant's inbound topic, keep the bad ones."""
    inbound = topic_name("inbound", settings.topic_prefix, tenantid=tenantid)
    results: list[dict] = []
    rejected: list[tuple[int, Any, list[Reason], Any]] = []
    sends = []
    for index, item in enumerate(items):
        raw = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            event = decode_object(item)
        except DecodeError as err:
            rejected.append((index, item, err.reasons, None))
            results.append({"index": index, "status": "rejected", "reasons": _reasons(err.reasons)})
            continue
        # The clock rule needs the ledger of ticks: the Kafka intake applies it, with the same words.
        reasons = screen(event, tenantid, tenants.facts(tenantid), None)
        if reasons:
            rejected.append((index, item, reasons, event))
            results.append({"index": index, "id": event.id, "status": "rejected", "reasons": _reasons(reasons)})
            continue
        sends.append(await runtime.producer.send(inbound, value=raw, key=event.key.encode()))
        results.append({"index": index, "id": event.id, "status": "accepted"})
    for ack in sends:
        await ack  # acks=all: accepted means on the broker
    if rejected:
        async with runtime.new_uow() as uow:
            for index, item, reasons, event in rejected:
                raw = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
                await reject(uow, original=raw, reasons=reasons, tenantid=tenantid,
                             customerid=event.customerid if event else customer_of(item), via="http",
                             when=utcnow(), rejection_id=deterministic_id("rejected-http", tenantid,
                                                                          request_digest, str(index)),
                             event_type=event.type if event else type_of(item),
                             event_id=event.id if event else id_of(item))
            await uow.commit()
        runtime.relay.wake()
    return results


def _reasons(reasons: list[Reason]) -> list[dict]:
    return [{"path": r.path, "message": r.message} for r in reasons]
