"""The CloudEvents 1.0 envelope (structured JSON mode, CONTRACT.md section 1)."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Generic, Literal, TypeVar

from annotated_types import Ge
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .registry import REGISTRY, EventType
from .scalars import Identifier, PartitionId, Source, Timestamp

DataT = TypeVar("DataT")

# customerid of events about a whole tenant (clock.tick, portfolio.kpis) and
# of event.rejected when the original's customerid could not be read.
TENANT_CUSTOMERID = "_tenant"

# types whose causationid may be absent although services write them
_CAUSELESS = frozenset({"event.rejected"})

SchemaVersion = Annotated[int, Strict(), Ge(1)]


class CloudEvent(BaseModel, Generic[DataT]):
    """A softcollect event: CloudEvents 1.0 attributes plus the extensions
    `tenantid`, `customerid`, `schemaversion`, `causationid` and
    `correlationid`. Any other attribute is refused as a likely typo.

    `data` always holds the payload model registered for `type`; use
    `CloudEvent[InvoiceIssued]` for static typing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = Field(description='CloudEvents version, always "1.0".')
    id: Identifier = Field(
        description="Unique per `source`; the idempotency key: an event with the same `source` and `id` as one "
        "already processed has no second effect."
    )
    source: Source = Field(description="Who produced it, e.g. `erp/acme-sap`, `softcollect/aging`.")
    type: str = Field(description="Event type, e.g. `invoice.issued`.")
    time: Timestamp = Field(description="RFC 3339 timestamp (with offset) of the business fact.")
    tenantid: PartitionId = Field(
        description="The client company whose receivables these are; 1-64 of A-Z a-z 0-9 . _ -."
    )
    customerid: PartitionId = Field(
        description="The debtor, unique within the tenant; 1-64 of A-Z a-z 0-9 . _ -. "
        f"Tenant-wide events use `{TENANT_CUSTOMERID}`."
    )
    schemaversion: SchemaVersion = Field(
        1, validate_default=True, description="Version of `data`'s schema for this `type`; default 1."
    )
    subject: Identifier | None = Field(None, description="The business object: invoice id, payment id, dispute id...")
    causationid: Identifier | None = Field(
        None, validate_default=True, description="`id` of the event that caused this one; required on outcome events."
    )
    correlationid: Identifier | None = Field(
        None, description="Carried unchanged through every event a chain produces."
    )
    datacontenttype: Literal["application/json"] | None = Field(None, description='Always "application/json" if given.')
    data: DataT = Field(description="The payload of `type`.")

    @property
    def key(self) -> str:
        """Kafka key: `<tenantid>:<customerid>`."""
        return f"{self.tenantid}:{self.customerid}"

    @property
    def event_type(self) -> EventType:
        return REGISTRY[self.type]

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in REGISTRY:
            close = difflib.get_close_matches(value, REGISTRY, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise PydanticCustomError("unknown_type", f"unknown event type {value!r}{hint}")
        return value

    @field_validator("schemaversion")
    @classmethod
    def _current_version(cls, value: int, info: ValidationInfo) -> int:
        entry = REGISTRY.get(info.data.get("type", ""))
        if entry is not None and value > entry.schemaversion:
            raise PydanticCustomError(
                "schemaversion_too_new",
                f"schemaversion {value} of {entry.type} is newer than the newest this softcollect knows "
                f"({entry.schemaversion})",
            )
        if entry is not None and value < entry.schemaversion:
            raise PydanticCustomError(
                "schemaversion_old",
                f"schemaversion {value} of {entry.type} is older than the current {entry.schemaversion}; "
                "decode() upcasts older versions, code must build the current one",
            )
        return value

    @field_validator("causationid")
    @classmethod
    def _caused(cls, value: str | None, info: ValidationInfo) -> str | None:
        entry = REGISTRY.get(info.data.get("type", ""))
        if value is None and entry is not None and not entry.inbound and entry.type not in _CAUSELESS:
            raise PydanticCustomError("causation_missing", "causationid is required on outcome events")
        return value

    @field_validator("data")
    @classmethod
    def _typed_data(cls, value: Any, info: ValidationInfo) -> Any:
        entry = REGISTRY.get(info.data.get("type", ""))
        # without a known type and current version there is no schema to check against
        if entry is None or info.data.get("schemaversion") != entry.schemaversion:
            return value
        if type(value) is dict:  # decoding: the common case first (isinstance on models is slow)
            return entry.model.model_validate(value)
        if isinstance(value, entry.model):
            return value
        if isinstance(value, BaseModel):
            raise PydanticCustomError(
                "data_model", f"data is a {type(value).__name__}; {entry.type} needs {entry.model.__name__}"
            )
        return entry.model.model_validate(value)
