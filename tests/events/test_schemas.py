"""Generated JSON Schemas and AsyncAPI document: valid, in step with the
code, and byte-identical to a fresh generation."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml
from jsonschema_specifications import REGISTRY as META_SCHEMAS
from referencing.jsonschema import DRAFT7

from softcollect_events import REGISTRY, example_events, to_json
from softcollect_events.generate import ASYNCAPI_FILE, main, render_all

from .conftest import LIB, example_json, shared_schema

ALL_EXAMPLES = [(t, i) for t in sorted(REGISTRY) for i in range(len(example_events(t)))]


def _validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    """Offline draft-07 validator; every embedded `$id` sub-schema is
    registered, so no reference ever goes to the network."""
    resources = [(sub["$id"], DRAFT7.create_resource(sub)) for sub in _with_id(schema)]
    registry = META_SCHEMAS.with_resources(resources)
    return jsonschema.Draft7Validator(
        schema, registry=registry, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def _with_id(node: Any):
    if isinstance(node, dict):
        if isinstance(node.get("$id"), str):
            yield node
        for value in node.values():
            yield from _with_id(value)
    elif isinstance(node, list):
        for value in node:
            yield from _with_id(value)


def _own_schema(type_: str) -> dict[str, Any]:
    return json.loads((LIB / "schemas" / f"{type_}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cloudevents() -> jsonschema.Draft7Validator:
    return _validator(shared_schema("cloudevents-1.0.json"))


@pytest.mark.parametrize(("type_", "index"), ALL_EXAMPLES)
def test_example_validates_against_cloudevents(cloudevents, type_, index):
    cloudevents.validate(example_json(type_, index))


@pytest.mark.parametrize(("type_", "index"), ALL_EXAMPLES)
def test_example_validates_against_its_generated_schema(type_, index):
    schema = _own_schema(type_)
    jsonschema.Draft7Validator.check_schema(schema)
    _validator(schema).validate(example_json(type_, index))


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_generated_schema_pins_type_and_embeds_examples(type_):
    schema = _own_schema(type_)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["properties"]["type"]["const"] == type_
    assert schema["additionalProperties"] is False
    assert schema["properties"]["data"]["additionalProperties"] is False
    assert schema["examples"] == [json.loads(to_json(e)) for e in example_events(type_)]
    if not REGISTRY[type_].inbound and type_ != "event.rejected":
        assert "causationid" in schema["required"]


def test_generated_schema_refuses_what_decode_refuses():
    validator = _validator(_own_schema("invoice.issued"))
    event = example_json("invoice.issued")
    for bad in (12.5, "12,50", "-1.00", "0"):
        event["data"]["amount"] = bad
        assert not validator.is_valid(event), bad
    event = example_json("invoice.issued")
    event["tenant_id"] = "acme"
    assert not validator.is_valid(event)
    event = example_json("invoice.issued")
    event["type"] = "payment.received"
    assert not validator.is_valid(event)
    outcome = _validator(_own_schema("receivable.opened"))
    event = example_json("receivable.opened")
    assert outcome.is_valid(event)
    for cause in (None, ""):
        event["causationid"] = cause
        assert not outcome.is_valid(event)


def test_asyncapi_validates_against_the_meta_schema():
    meta = shared_schema("asyncapi-3.0.0.json")
    document = yaml.safe_load((LIB / ASYNCAPI_FILE).read_text(encoding="utf-8"))
    errors = sorted(_validator(meta).iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:10])


def test_asyncapi_describes_every_type_and_topic():
    document = yaml.safe_load((LIB / ASYNCAPI_FILE).read_text(encoding="utf-8"))
    assert set(document["components"]["messages"]) == set(REGISTRY)
    for message in document["components"]["messages"].values():
        ref = message["payload"]["$ref"]
        assert (LIB / ref).is_file(), ref
        assert message["bindings"]["kafka"]["key"]["pattern"]
    channels = document["channels"]
    assert channels["inbound"]["address"] == "softcollect.inbound.{tenantid}"
    assert "tenantid" in channels["inbound"]["parameters"]
    assert channels["dispute_cases"]["address"] == "softcollect.dispute-cases"
    assert channels["invoices"]["address"] == "softcollect.invoices"
    actions = {name: op["action"] for name, op in document["operations"].items()}
    assert actions["receive_inbound"] == "receive"
    assert actions["send_receivables"] == "send"
    for op in document["operations"].values():
        channel_ref = op["channel"]["$ref"].split("/")[-1]
        for message in op.get("messages", []):
            assert message["$ref"].startswith(f"#/channels/{channel_ref}/messages/")
    description = document["info"]["description"]
    for phrase in ("at-least-once", "idempotent", "`source` + `id`", "<tenantid>:<customerid>"):
        assert phrase in description


def test_generated_files_are_fresh(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    produced = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert produced, "nothing generated"
    for relative in produced:
        committed = LIB / relative
        assert committed.is_file(), f"{relative} is not committed"
        assert committed.read_bytes() == (tmp_path / relative).read_bytes(), f"{relative} is stale"
    committed_schemas = sorted((LIB / "schemas").glob("*.json"))
    assert [p.name for p in committed_schemas] == sorted(p.name for p in (tmp_path / "schemas").glob("*.json"))


def test_generation_is_deterministic():
    assert render_all() == render_all()


def test_check_mode_names_stale_files(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "schemas" / "clock.tick.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "schemas" / "old.type.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "clock.tick.json" in err and "old.type.json" in err
    assert "invoice.issued.json" not in err


def test_committed_files_pass_check():
    assert main(["--check"]) == 0
