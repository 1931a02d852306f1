"""Kafka codec: CloudEvent <-> (topic, key, value, headers).

`decode` never stops at the first problem: a client fixing a rejected event
should see every reason at once, each located by a JSON path.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from pydantic import ValidationError

from . import quick
from .envelope import CloudEvent
from .jsonpath import json_path
from .registry import REGISTRY
from .rejected import Reason
from .topics import DEFAULT_PREFIX, Topic, as_topic, topic_name
from .upcasters import UpcastError, upcast

CONTENT_TYPE = "application/cloudevents+json"

_NOT_PARSED = object()


class KafkaRecord(NamedTuple):
    """One record to produce (a named tuple: one is built per event forwarded or emitted)."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class DecodeError(ValueError):
    """The input is not a valid event; `reasons` lists every problem.
    `parsed` is the JSON value if the input was JSON (ingest uses it to
    find the tenant and customer of a rejected event), else None."""

    def __init__(self, reasons: list[Reason], parsed: Any = _NOT_PARSED) -> None:
        self.reasons = list(reasons)
        self.parsed = None if parsed is _NOT_PARSED else parsed
        super().__init__(self.reasons)

    def __str__(self) -> str:
        count = len(self.reasons)
        lines = "".join(f"\n  {reason}" for reason in self.reasons)
        return f"invalid event ({count} problem{'s' if count != 1 else ''}):{lines}"


def encode(event: CloudEvent, prefix: str = DEFAULT_PREFIX, *, topic: Topic | str | None = None) -> KafkaRecord:
    """Serialise to the canonical topic of the event's type. Clients writing
    inbound types pass `topic=Topic.inbound` for their tenant's inbound topic."""
    entry = REGISTRY[event.type]
    target = entry.topic if topic is None else as_topic(topic)
    if target is not entry.topic and not (entry.inbound and target is Topic.inbound):
        raise ValueError(f"{event.type} belongs on {entry.topic.value}, not {target.value}")
    return KafkaRecord(
        topic=topic_name(target, prefix, event.tenantid),
        key=event.key.encode("utf-8"),
        value=to_json(event),
        headers=[
            ("content-type", CONTENT_TYPE.encode("ascii")),
            ("ce_type", event.type.encode("utf-8")),
            ("ce_id", event.id.encode("utf-8")),
        ],
    )


def to_json(event: CloudEvent) -> bytes:
    """Compact UTF-8 JSON; absent optionals are left out rather than null."""
    return event.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # parsers disagree on which duplicate wins; refuse the ambiguity
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# one decoder for every call: json.loads with hooks builds a new one each time
_parse_json = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_no_constant).decode


def decode(value: bytes | bytearray | memoryview | str) -> CloudEvent:
    """Parse and validate one Kafka value (or HTTP body holding one event)."""
    if isinstance(value, str):
        text = value
    else:
        event = quick.accept(value if type(value) is bytes else bytes(value))
        if event is not None:
            return event
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError([Reason(path="$", message=f"not UTF-8: invalid byte at offset {exc.start}")]) from None
    try:
        # json.loads would refuse a BOM first; it does, with its own words, for that rare input
        parsed = _parse_json(text) if not text.startswith("\ufeff") else json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise DecodeError([Reason(path="$", message=f"not JSON: {exc.msg} at {where}")]) from None
    except _DuplicateKey as exc:
        raise DecodeError([Reason(path="$", message=f"not acceptable JSON: duplicate key {exc.key!r}")]) from None
    except ValueError as exc:
        raise DecodeError([Reason(path="$", message=f"not JSON: {exc}")]) from None
    except RecursionError:
        raise DecodeError([Reason(path="$", message="not acceptable JSON: nested too deeply")]) from None
    return decode_object(parsed)


def decode_object(parsed: Any) -> CloudEvent:
    """Validate an already parsed JSON value (e.g. one element of an HTTP
    batch); reasons' paths are relative to it."""
    if not isinstance(parsed, dict):
        raise DecodeError(
            [Reason(path="$", message=f"expected a JSON object (one CloudEvent), got {_json_kind(parsed)}")], parsed
        )
    reasons: list[Reason] = []
    candidate = _upcasted(parsed, reasons)
    try:
        event = CloudEvent.model_validate(candidate)
    except ValidationError as exc:
        reasons.extend(_reasons(exc, parsed))
    if reasons:
        raise DecodeError(_unique(reasons), parsed)
    return event


def _upcasted(obj: dict[str, Any], reasons: list[Reason]) -> dict[str, Any]:
    entry = REGISTRY.get(obj["type"]) if isinstance(obj.get("type"), str) else None
    version = obj.get("schemaversion", 1)
    if entry is None or type(version) is not int or not 1 <= version < entry.schemaversion or "data" not in obj:
        return obj
    if not isinstance(obj["data"], dict):
        reasons.append(Reason(path="$.data", message=f"data must be a JSON object, got {_json_kind(obj['data'])}"))
        return obj
    try:
        data = upcast(entry.type, version, obj["data"])
    except UpcastError as exc:
        reasons.append(Reason(path="$.schemaversion", message=str(exc)))
        return obj
    return {**obj, "data": data, "schemaversion": entry.schemaversion}


def _reasons(exc: ValidationError, obj: dict[str, Any]) -> list[Reason]:
    out = []
    for error in exc.errors(include_url=False):
        if error["type"] == "schemaversion_old":
            continue  # only reachable when upcasting failed, which already said why
        loc = error["loc"]
        out.append(Reason(path=json_path(loc), message=_message(error, loc, obj)))
    return out


def _message(error: Any, loc: tuple[str | int, ...], obj: dict[str, Any]) -> str:
    kind = error["type"]
    top = len(loc) == 1
    if kind == "missing":
        return "required attribute is missing" if top else "required field is missing"
    if kind == "extra_forbidden":
        if top:
            return f"unknown attribute {loc[0]!r}: not part of the softcollect contract (a typo?)"
        owner = obj.get("type") if loc[0] == "data" and len(loc) == 2 else None
        return f"unknown field {loc[-1]!r}" + (f" for {owner}" if isinstance(owner, str) and owner in REGISTRY else "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    return error["msg"]


def _unique(reasons: list[Reason]) -> list[Reason]:
    return list(dict.fromkeys(reasons))


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
