"""HTTP intake (POST /v1/events) against a real ingest worker: keys, limits, problem details,
partial batches — and what is accepted travels the Kafka path."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from softcollect_events import Topic, encode
from tests.ingest.harness import Ingest, event
from tests.support import wait_for_records

pytestmark = [pytest.mark.broker, pytest.mark.database]


def post(ingest: Ingest, body, key: str | None, raw: bytes | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(ingest.worker.url + "/v1/events", content=content, headers=headers, timeout=30)


def as_json(ev) -> dict:
    return json.loads(encode(ev).value)


def test_missing_and_wrong_keys_are_401_problem_details(ingest):
    body = as_json(event("invoice.issued"))
    for key in (None, "acme.not-the-secret", "nobody.x", ingest.keys["acme"] + "x", "garbage"):
        r = post(ingest, body, key)
        assert r.status_code == 401, key
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 401 and problem["title"] == "Unauthorized"


def test_a_key_of_one_tenant_never_submits_for_another(ingest):
    # beta's valid key, acme's event: authenticated as beta, so the event is refused.
    r = post(ingest, as_json(event("invoice.issued", tenant="acme", customer="h-x")), ingest.keys["beta"])
    assert r.status_code == 422
    [result] = r.json()["results"]
    assert result["status"] == "rejected"
    assert result["reasons"][0]["path"] == "$.tenantid"
    assert "does not match the channel's tenant 'beta'" in result["reasons"][0]["message"]
    # and acme's key whose prefix is rewritten to beta's name fails authentication
    forged = "beta." + ingest.keys["acme"].rpartition(".")[2]
    assert post(ingest, as_json(event("invoice.issued", tenant="beta")), forged).status_code == 401


def test_too_large_is_413(ingest):
    big = b"[" + b",".join([json.dumps(as_json(event("invoice.issued"))).encode()] * 4000) + b"]"
    assert len(big) > 1024 * 1024
    r = post(ingest, None, ingest.keys["acme"], raw=big)
    assert r.status_code == 413
    assert r.json()["title"] == "Payload too large"


def test_more_events_than_a_batch_holds_is_413(ingest):
    one = as_json(event("invoice.cancelled"))
    r = post(ingest, [one] * 1001, ingest.keys["acme"])
    assert r.status_code == 413 and "at most 1000" in r.json()["detail"]


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[]"])
def test_malformed_bodies_are_400(ingest, raw):
    r = post(ingest, None, ingest.keys["acme"], raw=raw)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_partial_batch_reports_each_event_and_nothing_is_half_accepted(ingest):
    good = event("invoice.issued", customer="h-1")
    also_good = event("payment.received", customer="h-1")
    bad = as_json(event("payment.received", customer="h-2"))
    bad["data"]["amount"] = 12.5
    r = post(ingest, [as_json(good), bad, as_json(also_good)], ingest.keys["acme"])
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 2 and body["rejected"] == 1
    statuses = {res["index"]: res for res in body["results"]}
    assert statuses[0] == {"index": 0, "id": good.id, "status": "accepted"}
    assert statuses[1]["status"] == "rejected"
    assert statuses[1]["reasons"] == [{"path": "$.data.amount",
                                       "message": 'money must be a string holding a decimal, e.g. "12.50"'}]
    assert statuses[2]["status"] == "accepted"
    # The accepted ones travel the Kafka path to their canonical topics …
    await wait_for_records(ingest.topic(Topic.invoices), 1, where=lambda rec: json.loads(rec.value)["id"] == good.id)
    await wait_for_records(ingest.topic(Topic.payments), 1,
                           where=lambda rec: json.loads(rec.value)["id"] == also_good.id)
    # … and the rejected one is kept with its reasons, marked as received over HTTP.
    [rej] = await wait_for_records(ingest.topic(Topic.rejected), 1,
                                   where=lambda rec: json.loads(rec.value).get("subject") == bad["id"])
    data = json.loads(rej.value)["data"]
    assert data["received_via"] == "http"
    assert json.loads(base64.b64decode(data["original"])) == bad
    assert any(row["event_id"] == bad["id"] and row["received_via"] == "http" for row in ingest.rejected_rows("acme"))


def test_a_single_event_object_is_accepted(ingest):
    ev = event("customer.upserted", customer="h-3")
    r = post(ingest, as_json(ev), ingest.keys["acme"])
    assert r.status_code == 202
    assert r.json()["results"] == [{"index": 0, "id": ev.id, "status": "accepted"}]


def test_the_openapi_document_is_served_and_current(ingest):
    from softcollect_ingest.openapi import COMMITTED, document, render

    r = httpx.get(ingest.worker.url + "/v1/openapi.yaml", timeout=10)
    assert r.status_code == 200 and r.text == render()
    assert COMMITTED.read_text() == render(), "run: python -m softcollect_ingest.openapi"
    schemas = document()["components"]["schemas"]
    for name, schema in schemas.items():
        ref = schema.get("$ref", "")
        if ref.startswith("../"):
            assert (COMMITTED.parent / ref).resolve().is_file(), name
