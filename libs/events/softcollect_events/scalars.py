"""Scalar field types shared by the envelope and the payloads.

Validators are hand-written rather than pydantic's lax defaults because the
contract is stricter than "coercible": a date is a YYYY-MM-DD string, not a
Unix timestamp; a timestamp must carry its offset; ids form Kafka keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache
from typing import Annotated, Any

from annotated_types import Ge, Le
from babel import Locale
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, PlainSerializer, Strict, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


class JsonFast:
    """Pydantic metadata for a scalar checked in Python (`python`: values code builds, JSON that
    Python parsed) and, for raw JSON, by the same rule in pydantic-core (`json`): decode's quick
    path validates bytes without a Python call per field. The `json` rule may refuse more than
    `python` (decode then takes the full path, whose messages are the contract's), never less,
    and must give an equal value."""

    def __init__(self, python: Callable[[Any], Any], json: CoreSchema) -> None:
        self.python = python
        self.json = json

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.json_or_python_schema(
            json_schema=self.json, python_schema=core_schema.no_info_plain_validator_function(self.python))


def json_string(pattern: str, error: str, message: str, *, max_len: int | None = None) -> CoreSchema:
    """A JSON string matching `pattern` (pydantic-core's Rust regex), else `error`."""
    return core_schema.custom_error_schema(
        core_schema.str_schema(strict=True, pattern=pattern, max_length=max_len),
        custom_error_type=error, custom_error_message=message)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
_DATE_MESSAGE = 'date must be an ISO 8601 string "YYYY-MM-DD"'


def _validate_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise PydanticCustomError("date_format", _DATE_MESSAGE)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_value", f"{value!r} is not a calendar date") from None


IsoDate = Annotated[
    date,
    JsonFast(_validate_date, core_schema.chain_schema([
        json_string("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "date_format", _DATE_MESSAGE),
        core_schema.custom_error_schema(core_schema.date_schema(), custom_error_type="date_value",
                                        custom_error_message="not a calendar date"),
    ])),
    PlainSerializer(date.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}),
]

_TIMESTAMP_HINT = 'e.g. "2024-05-01T09:30:00Z" or "2024-05-01T11:30:00+02:00"'


def _validate_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise PydanticCustomError("timestamp_naive", "timestamp must be timezone-aware")
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp_type", f"timestamp must be an RFC 3339 string, {_TIMESTAMP_HINT}")
    if not _RFC3339.fullmatch(value):
        if _NAIVE.fullmatch(value):
            raise PydanticCustomError(
                "timestamp_naive",
                f"timestamp has no time zone offset; RFC 3339 requires 'Z' or '+hh:mm', {_TIMESTAMP_HINT}",
            )
        raise PydanticCustomError("timestamp_format", f"timestamp must be RFC 3339, {_TIMESTAMP_HINT}")
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise PydanticCustomError("timestamp_value", f"{value!r} is not a valid point in time") from None


def _rfc3339(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if value.utcoffset() == timedelta(0) and text.endswith("+00:00") else text


_RFC3339_PATTERN = ("^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
                    "(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$")

Timestamp = Annotated[
    datetime,
    JsonFast(_validate_timestamp, core_schema.chain_schema([
        json_string(_RFC3339_PATTERN, "timestamp_format", f"timestamp must be RFC 3339, {_TIMESTAMP_HINT}"),
        # pydantic-core's tzinfo (TzInfo) is not Python's timezone, but the point in time, the offset
        # and the serialised form are the same; converting costs more than the rest of the timestamp
        core_schema.custom_error_schema(core_schema.datetime_schema(tz_constraint="aware"),
                                        custom_error_type="timestamp_value",
                                        custom_error_message="not a valid point in time"),
    ])),
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": _RFC3339_PATTERN,
        }
    ),
]


class StringFormat:
    """Pydantic metadata for a constrained string: one pattern, one clear
    message, and the same pattern in the JSON Schema."""

    def __init__(self, name: str, pattern: str, message: str, *, max_len: int, schema: dict | None = None) -> None:
        self.name = name
        self.message = message
        self.max_len = max_len
        self._schema = {
            "type": "string",
            "minLength": 1,
            "maxLength": max_len,
            "pattern": f"^(?:{pattern})$",
            **(schema or {}),
        }

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # A string (else "<name> must be a string"), then length and pattern (else the message),
        # checked by pydantic-core itself: a Python validator call per field was a visible share
        # of every decode. Rust's regex classes are Unicode's, as the JSON Schema's are.
        checked = core_schema.chain_schema([
            core_schema.custom_error_schema(core_schema.str_schema(strict=True), custom_error_type=f"{self.name}_type",
                                            custom_error_message=f"{self.name} must be a string"),
            core_schema.custom_error_schema(
                core_schema.str_schema(pattern=self._schema["pattern"], min_length=1, max_length=self.max_len),
                custom_error_type=f"{self.name}_format", custom_error_message=self.message),
        ])
        # raw JSON (decode's quick path, which words no errors): one step, the same rule
        quick = core_schema.str_schema(strict=True, pattern=self._schema["pattern"], min_length=1,
                                       max_length=self.max_len)
        return core_schema.json_or_python_schema(json_schema=quick, python_schema=checked)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return dict(self._schema)


# Python's \s (which these checks were first written with) also takes the separators \x1c-\x1f;
# Unicode's, as pydantic-core and JSON Schema validators read \s, does not: named where it matters.
_PY_SPACES = r"\x1c-\x1f"

# Kafka keys are "<tenantid>:<customerid>" and topic names embed the tenant,
# so these exclude ':' and anything Kafka refuses in a topic name.
PARTITION_ID_PATTERN = r"[A-Za-z0-9._-]{1,64}"
PartitionId = Annotated[
    str, StringFormat("id", PARTITION_ID_PATTERN, "must be 1-64 characters of A-Z a-z 0-9 . _ -", max_len=64)
]

# Business ids come from clients' ERPs in many shapes; refuse only what would
# break logs and keys: blanks, surrounding spaces, control characters.
Identifier = Annotated[
    str,
    StringFormat(
        "identifier",
        r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?",
        "must be 1-128 characters, without control characters or surrounding spaces",
        max_len=128,
    ),
]

Text = Annotated[
    str, StringFormat("text", rf"[\s\S]*[^\s{_PY_SPACES}][\s\S]*", "must be non-blank text of at most 2000 characters",
                      max_len=2000)
]

# BCP 47 language tags in the shape CLDR locales use: it-IT, de-CH, sr-Latn-RS.
Language = Annotated[
    str,
    StringFormat(
        "language",
        r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*",
        'language must be a BCP 47 tag, e.g. "it", "en-GB"',
        max_len=35,
    ),
]

Email = Annotated[
    str,
    StringFormat(
        "email",
        rf"[^@\s{_PY_SPACES}]+@[^@\s.{_PY_SPACES}]+(?:\.[^@\s.{_PY_SPACES}]+)+",
        'must be an e-mail address like "ap@example.com"',
        max_len=254,
        schema={"format": "email"},
    ),
]

Phone = Annotated[
    str,
    StringFormat(
        "phone",
        r"\+?[0-9][0-9 ()./-]{4,30}",
        'phone must be digits with optional leading "+" and separators, e.g. "+39 02 1234567"',
        max_len=32,
    ),
]

# CLDR groups that look like countries but are not (EU, UN, pseudo-locales).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"})


@cache
def known_countries() -> frozenset[str]:
    territories = Locale("en").territories
    return frozenset(c for c in territories if len(c) == 2 and c.isalpha()) - _NOT_COUNTRIES


def _validate_country(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{2}", value):
        raise PydanticCustomError("country_format", 'country must be ISO 3166-1 alpha-2 in upper case, e.g. "IT"')
    if value not in known_countries():
        raise PydanticCustomError("country_unknown", f"unknown ISO 3166-1 country {value!r}")
    return value


Country = Annotated[
    str,
    JsonFast(_validate_country, core_schema.custom_error_schema(
        core_schema.literal_schema(sorted(known_countries())), custom_error_type="country_unknown",
        custom_error_message="country must be a known ISO 3166-1 alpha-2 code in upper case")),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{2}$"}),
]

# JSON integers only: pydantic's lax mode would take "5" or 5.0 or true.
Count = Annotated[int, Strict(), Ge(0)]
Days = Annotated[int, Strict()]
Percent = Annotated[int, Strict(), Ge(0), Le(100)]
Ordinal = Annotated[int, Strict(), Ge(1)]

# Open vocabularies: tenants may add values, so only the shape is checked.
Segment = Annotated[
    str,
    StringFormat(
        "segment",
        r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
        "segment must be 1-64 characters of A-Z a-z 0-9 . _ -",
        max_len=64,
    ),
]
Step = Annotated[
    str,
    StringFormat(
        "step", r"[a-z][a-z0-9_]{0,63}", 'step must be a lower-case policy step name, e.g. "first_reminder"', max_len=64
    ),
]
# Event types as CloudEvents `type` carries them, e.g. "payment.received". Checked by shape
# only: an outcome naming its cause must not break when the contract adds a type.
EventTypeName = Annotated[
    str,
    StringFormat(
        "event_type",
        r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+",
        'event_type must be a lower-case dotted event type, e.g. "payment.received"',
        max_len=64,
    ),
]
# RFC 5322 Message-IDs can be long; they are opaque references here.
MessageId = Annotated[
    str,
    StringFormat(
        "message_id", r"[^\s\x00-\x1f\x7f]+", "message_id must be 1-998 characters without spaces", max_len=998
    ),
]

# CloudEvents `source` is a URI-reference; "erp/acme-sap" is typical.
Source = Annotated[
    str,
    StringFormat(
        "source",
        r"[^\s\x00-\x1f\x7f]+",
        'source must be 1-256 characters without spaces, e.g. "erp/acme-sap"',
        max_len=256,
    ),
]
