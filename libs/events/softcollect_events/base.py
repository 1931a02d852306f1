"""Base classes for event payloads (`data`).

Cross-field rules (currency precision, sums, contact data) are collected as
issues and raised together, each with its own location, so a client sees
every problem of a payload at once and each one names its field.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from .money import MoneyFormat, currency_precision, decimal_places
from .privacy import REDACTED, find_contact_data

Loc = tuple[str | int, ...]


class Issue(NamedTuple):
    loc: Loc
    code: str
    message: str
    input: Any = None


def loc_text(loc: Loc) -> str:
    """`("installments", 1, "amount")` -> `installments[1].amount` for messages."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def raise_issues(title: str, issues: list[Issue]) -> None:
    if issues:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(
                    type=PydanticCustomError(i.code, "{message}", {"message": i.message}),
                    loc=i.loc,
                    input=i.input,
                )
                for i in issues
            ],
        )


def examples(*items: dict[str, Any]) -> ConfigDict:
    """Model config carrying JSON Schema examples (also used by the tests and
    the generated docs, so every example must validate)."""
    return ConfigDict(json_schema_extra={"examples": list(items)})


def _holds_money(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return any(isinstance(m, MoneyFormat) for m in annotation.__metadata__)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_holds_money(arg) for arg in typing.get_args(annotation))
    return False


@cache
def _money_fields(cls: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name
        for name, field in cls.model_fields.items()
        if any(isinstance(m, MoneyFormat) for m in field.metadata) or _holds_money(field.annotation)
    )


class EventData(BaseModel):
    """Base of every payload: unknown fields are refused so typos surface."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _check_contract(self) -> EventData:
        issues = self.contract_issues()
        if issues:
            raise_issues(type(self).__name__, issues)
        return self

    def contract_issues(self) -> list[Issue]:
        """Cross-field rules, as a new list: subclasses add to ``super().contract_issues()`` and
        return it. Lists, not generator chains: this runs on every decode, and a chain's frames
        cost about as much as a valid event's rules (decode of ingest's benchmark mix: ~35 → ~33 µs)."""
        currency = getattr(self, "currency", None)
        return _precision_issues(self, currency, ()) if isinstance(currency, str) else []


@cache
def _precision_plan(cls: type[BaseModel]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Of a model's fields, those worth visiting: money, and any that can hold nested models.
    Walking only these keeps the check off plain identifiers, dates and text on every decode."""
    money = _money_fields(cls)
    visit = tuple(name for name, field in cls.model_fields.items()
                  if name in money or may_hold_objects(field.annotation))
    return money, visit


def may_hold_objects(annotation: Any) -> bool:
    """Whether a field so annotated can hold JSON objects: models, mappings, anything untyped."""
    if annotation is Any or isinstance(annotation, TypeVar):
        return True
    if isinstance(annotation, type) and issubclass(annotation, (BaseModel, Mapping)):
        return True
    if typing.get_origin(annotation) in (dict, Mapping):
        return True
    return any(may_hold_objects(arg) for arg in typing.get_args(annotation) if not isinstance(arg, str))


def _precision_issues(model: BaseModel, currency: str, prefix: Loc) -> list[Issue]:
    """Money fields (of the model and of nested models without a currency of their own) with more
    decimal places than the currency allows. A plain loop, not generators: it runs on every decode."""
    issues: list[Issue] = []
    money, visit = _precision_plan(type(model))
    for name in visit:
        value = getattr(model, name)
        if value is None:
            continue
        if name in money and isinstance(value, Decimal):
            places, allowed = decimal_places(value), currency_precision(currency)
            if places > allowed:
                loc = (*prefix, name)
                issues.append(Issue(
                    loc,
                    "currency_precision",
                    f"{loc_text(loc)} has {places} decimal place{'s' if places != 1 else ''} "
                    f"but {currency} allows at most {allowed}",
                    str(value),
                ))
        elif isinstance(value, (list, tuple, BaseModel)):  # BaseModel last: its isinstance is ABCMeta's, slow
            for sub_loc, sub in _children(value, (*prefix, name)):
                if "currency" not in type(sub).model_fields:  # nested models with their own currency check themselves
                    issues.extend(_precision_issues(sub, currency, sub_loc))
    return issues


def _children(value: Any, loc: Loc) -> Iterator[tuple[Loc, BaseModel]]:
    if isinstance(value, BaseModel):
        yield loc, value
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _children(item, (*loc, index))


class InboundData(EventData):
    """Payload of a type clients write."""


class OutcomeData(EventData):
    """Payload of a type softcollect's services write. Never carries a
    debtor's e-mail address or phone number: any string field holding one is
    refused (see `privacy.redact_contact_data`)."""

    # SMTP Message-IDs look like e-mail addresses but identify a message.
    contact_data_exempt: ClassVar[frozenset[str]] = frozenset({"message_id"})

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        issues.extend(_contact_issues(self, ()))
        return issues


def _contact_issues(model: BaseModel, prefix: Loc) -> Iterator[Issue]:
    exempt = getattr(model, "contact_data_exempt", frozenset())
    for name in type(model).model_fields:
        if name not in exempt:
            yield from _scan(getattr(model, name), (*prefix, name))


def _scan(value: Any, loc: Loc) -> Iterator[Issue]:
    if isinstance(value, str):
        kind = find_contact_data(value)
        if kind:
            # the offending value is not echoed: error texts end up in logs
            yield Issue(loc, "contact_data", f"{loc_text(loc)} contains {kind}; outcome events must not", REDACTED)
    elif isinstance(value, BaseModel):
        yield from _contact_issues(value, loc)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _scan(item, (*loc, index))
