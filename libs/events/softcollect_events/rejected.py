"""`event.rejected`: what ingest publishes for input it cannot accept."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from .base import EventData, Issue, examples
from .enums import ReceivedVia
from .scalars import Count, Ordinal

_ABSENT: Any = object()


class Reason(BaseModel):
    """One problem with an event, located by a JSON path into it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        min_length=1,
        description="JSON path of the offending value, e.g. `$.data.amount`, `$.data.installments[1].due_date`; "
        "`$` for the message as a whole.",
    )
    message: str = Field(min_length=1, description="What is wrong, for a person to read.")

    def __init__(self, path: Any = _ABSENT, message: Any = _ABSENT, **other: Any) -> None:
        # positional like a dataclass: Reason("$.data.amount", "must be greater than 0"). Validating
        # JSON comes through here too: an absent or unknown field is pydantic's to report, not a TypeError.
        given = {name: value for name, value in (("path", path), ("message", message)) if value is not _ABSENT}
        super().__init__(**given, **other)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _validate_base64(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("base64_type", "must be a base64 string")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PydanticCustomError("base64_format", "must be standard base64 (RFC 4648, with padding)") from None
    return value


Base64 = Annotated[
    str,
    PlainValidator(_validate_base64),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]


class EventRejected(EventData):
    """Ingest could not accept a message. It hands the client's own bytes back
    with every reason, field by field. Written on `softcollect.rejected`;
    `tenantid` is the tenant the input came from and `customerid` the
    original's if it was readable, else `_tenant`. Exempt from the
    contact-data rule of outcome events: `original` is the client's own
    input returned to that client."""

    model_config = examples(
        {
            "original": "eyJpZCI6ImV2dC0xIn0=",
            "topic": "softcollect.inbound.acme",
            "partition": 3,
            "offset": 18231,
            "reasons": [
                {"path": "$.data.amount", "message": 'money must be a string holding a decimal, e.g. "12.50"'},
                {"path": "$.time", "message": "required attribute is missing"},
            ],
            "received_via": "kafka",
        }
    )

    original: Base64 = Field(description="The original message bytes, base64 (RFC 4648).")
    topic: str | None = Field(
        None, min_length=1, description="Kafka topic it was read from; required unless `received_via` is http or csv."
    )
    partition: Count | None = Field(None, description="Kafka partition; required unless via http or csv.")
    offset: Count | None = Field(None, description="Kafka offset; required unless via http or csv.")
    line: Ordinal | None = Field(None, description="For CSV: 1-based line of the file the row came from.")
    reasons: list[Reason] = Field(min_length=1, description="Every problem found, field by field.")
    received_via: ReceivedVia | None = Field(None, description="Ingest path; absent means `kafka`.")

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.received_via in (None, ReceivedVia.kafka):
            for name in ("topic", "partition", "offset"):
                if getattr(self, name) is None:
                    issues.append(Issue((name,), "missing", f"{name} is required for a message received via kafka"))
        return issues
