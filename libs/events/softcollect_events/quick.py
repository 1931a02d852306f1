"""decode's quick path: a well-formed event validated by pydantic-core straight from its bytes.

The full path parses JSON in Python (refusing duplicate keys), then validates the Python value,
with a Python call for every date, amount, currency and cross-field rule of the envelope: about
70 µs per event, most of ingest's time. Here, per event type, one pydantic-core validator takes
the raw bytes: the envelope with `type` and `schemaversion` fixed to that type's, `data` typed
by its model, every scalar checked by its `JsonFast` rule in Rust. Only the payload's contract
rules (`EventData.contract_issues`) stay in Python.

`accept` returns the event, or None for anything it does not take for certain — invalid input,
an older schema version to upcast, duplicate keys, a `type` it could not spot. decode then takes
the full path, which alone words the reasons of a rejection. So this path may refuse more than
the full one, never less, and what it accepts equals what the full path gives (the tests hold
both paths to that on the contract's examples and on generated input).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter
from pydantic_core import CoreSchema, SchemaValidator, core_schema

from .base import may_hold_objects
from .envelope import _CAUSELESS, CloudEvent
from .registry import REGISTRY, EventType

# The first "type" member names the validator to try; if it was a payload's field, or a
# duplicate, the envelope's own `type` disagrees and the quick path declines.
_TYPE = re.compile(rb'"type"[ \t\n\r]*:[ \t\n\r]*"([a-z0-9_.]{1,64})"')


def accept(raw: bytes) -> CloudEvent | None:
    """The event `raw` holds, if this path can vouch for it; else None."""
    found = _TYPE.search(raw)
    if found is None:
        return None
    validator = _validator(found.group(1).decode("ascii"))
    if validator is None:
        return None
    try:
        values, _, fields_set = validator.validate_json(raw)
    except Exception:  # whatever it is, the full path meets it again and words it
        return None
    # the instance pydantic-core's model validator would build (CloudEvent's own validator is
    # the one pydantic-core reuses for a model schema of that class, hence the fields schema)
    event = CloudEvent.__new__(CloudEvent)
    _set(event, "__dict__", values)
    _set(event, "__pydantic_fields_set__", fields_set)
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    # A duplicate key collapses into one field: fewer keys in the event than in the bytes.
    if _json_keys(raw) != _keys(event):
        return None
    return event


_set = object.__setattr__


def _validator(event_type: str) -> SchemaValidator | None:
    entry = REGISTRY.get(event_type)
    if entry is None:
        return None
    built = _VALIDATORS.get(event_type)
    if built is None or built[0] is not entry:  # built for this very registry entry (tests replace some)
        built = _VALIDATORS[event_type] = (entry, SchemaValidator(_envelope_schema(entry), _config()))
    return built[1]


_VALIDATORS: dict[str, tuple[EventType, SchemaValidator]] = {}


def _config() -> core_schema.CoreConfig:
    config = dict(CloudEvent.__pydantic_core_schema__.get("config") or {})
    return core_schema.CoreConfig(**{**config, "allow_inf_nan": False})  # type: ignore[typeddict-item]


def _envelope_schema(entry: EventType) -> CoreSchema:
    """CloudEvent's fields for one type, without its Python field validators: what they check
    is fixed here (type and version literal, causation required where it is, data typed)."""
    needs_causation = not entry.inbound and entry.type not in _CAUSELESS
    fields: dict[str, core_schema.ModelField] = {}
    for name, field in CloudEvent.model_fields.items():
        default: Any = field.default
        if name == "type":
            schema = core_schema.literal_schema([entry.type])
        elif name == "schemaversion":
            schema = core_schema.int_schema(strict=True, ge=entry.schemaversion, le=entry.schemaversion)
        elif name == "data":
            schema = entry.model.__pydantic_core_schema__
        elif name == "causationid" and needs_causation:
            schema, default = _field_schema(CloudEvent.model_fields["id"]), ...
        else:
            schema = _field_schema(field)
        if default is not ... and not field.is_required():
            schema = core_schema.with_default_schema(schema, default=default, validate_default=True)
        fields[name] = core_schema.model_field(schema)
    return core_schema.model_fields_schema(fields, extra_behavior="forbid", model_name="CloudEvent")


def _field_schema(field: Any) -> CoreSchema:
    annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return TypeAdapter(annotation).core_schema


def _json_keys(raw: bytes) -> int:
    """At least the number of keys in the JSON text: each key ends with '"', optional white space
    and ':'. Without the white space that is a '":' (deleting can merge a string's own '" :' into
    one too: one more, never one less). Two bytes passes, faster than any regex here."""
    return raw.translate(None, b" \t\n\r").count(b'":')


def _keys(value: Any) -> int:
    """Keys of the JSON objects `value` was validated from: its models' set fields and dicts."""
    kind = type(value)
    if kind is list or kind is tuple:
        return sum(map(_keys, value))
    if kind is dict:
        return len(value) + sum(map(_keys, value.values()))
    fields_set = getattr(value, "__pydantic_fields_set__", None)
    if fields_set is None:
        return 0
    count = len(fields_set)
    for name in _nesting(kind):
        if name in fields_set:
            count += _keys(getattr(value, name))
    return count


@cache
def _nesting(model: type[BaseModel]) -> tuple[str, ...]:
    """A model's fields that can hold JSON objects (models, mappings, anything untyped)."""
    return tuple(name for name, field in model.model_fields.items() if may_hold_objects(field.annotation))
