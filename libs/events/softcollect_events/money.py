"""Money and currency types.

Money travels as a JSON string holding a plain decimal ("1250.00"): a float
cannot hold most cent amounts exactly, and an int hides the scale, so both
are refused even when the value would be representable.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache, lru_cache
from typing import Annotated, Any, Literal

import babel.numbers
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from .scalars import JsonFast, json_string

_MAX_LEN = 40  # generous for any real amount; bounds the work on hostile input

_SIGNED = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?"
_NON_NEGATIVE = r"(0|[1-9][0-9]*)(\.[0-9]+)?"
_POSITIVE = r"(0\.[0-9]*[1-9][0-9]*|[1-9][0-9]*(\.[0-9]+)?)"
_SYNTAX = re.compile(_SIGNED)
# decode's quick path (pydantic-core on raw JSON) leaves "-0" to the full path, which writes it "0"
_SIGNED_NOT_MINUS_ZERO = r"0(\.0+)?|-?(0\.[0-9]*[1-9][0-9]*|[1-9][0-9]*(\.[0-9]+)?)"
# per sign: the pattern (JSON Schema, full path) and the quick path's
_SIGN_PATTERNS = {
    "any": (_SIGNED, _SIGNED_NOT_MINUS_ZERO),
    "non_negative": (_NON_NEGATIVE, _NON_NEGATIVE),
    "positive": (_POSITIVE, _POSITIVE),
}


def _plain(value: Decimal) -> str:
    # format "f" never produces exponent notation, which our own parser refuses
    return format(value, "f")


def _parse_decimal(value: Any, *, what: str, example: str) -> Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PydanticCustomError(f"{what}_finite", f"{what} must be a finite decimal")
        if len(_plain(value)) > _MAX_LEN:  # what code builds must survive decode
            raise PydanticCustomError(f"{what}_digits", f"{what} has too many digits; quantize it")
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(f"{what}_type", f'{what} must be a string holding a decimal, e.g. "{example}"')
    if len(value) > _MAX_LEN or not _SYNTAX.fullmatch(value):
        raise PydanticCustomError(
            f"{what}_format",
            f'{what} must be a plain decimal string like "{example}": digits, an optional "." '
            "and fraction digits; no exponent, spaces, sign '+' or thousands separators",
        )
    return Decimal(value)


_SERIALIZER = core_schema.plain_serializer_function_ser_schema(
    _plain, when_used="json", return_schema=core_schema.str_schema()
)


class DecimalFormat:
    """Pydantic metadata for a decimal carried as a JSON string."""

    what = "decimal"
    example = "0.75"
    pattern, json_pattern = _SIGN_PATTERNS["any"]  # json: the values `pattern` takes whose Decimal is canonical

    def validate(self, value: Any) -> Decimal:
        amount = _parse_decimal(value, what=self.what, example=self.example)
        return amount.copy_abs() if amount.is_zero() else amount  # no "-0" on the wire

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # raw JSON (decode's quick path): the syntax, sign and length checked in pydantic-core;
        # its errors are generic, decode takes the full path for the contract's messages
        quick = core_schema.chain_schema([
            json_string(f"^(?:{self.json_pattern})$", f"{self.what}_format",
                        f'{self.what} must be a plain decimal string like "{self.example}"', max_len=_MAX_LEN),
            core_schema.decimal_schema(),
        ])
        return core_schema.json_or_python_schema(
            json_schema=quick, python_schema=core_schema.no_info_plain_validator_function(self.validate),
            serialization=_SERIALIZER)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "pattern": f"^{self.pattern}$", "maxLength": _MAX_LEN}


class MoneyFormat(DecimalFormat):
    """Pydantic metadata for money. Also how model validators find money
    fields for the currency precision check (ratios are DecimalFormat)."""

    what = "money"
    example = "12.50"

    def __init__(self, sign: Literal["any", "non_negative", "positive"]) -> None:
        self.sign = sign
        self.pattern, self.json_pattern = _SIGN_PATTERNS[sign]

    def validate(self, value: Any) -> Decimal:
        amount = super().validate(value)
        if self.sign == "positive" and amount <= 0:
            raise PydanticCustomError("money_positive", "must be greater than 0")
        if self.sign == "non_negative" and amount < 0:
            raise PydanticCustomError("money_non_negative", "must not be negative")
        return amount

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        note = {"any": "any sign", "non_negative": ">= 0", "positive": "> 0"}[self.sign]
        return {
            **super().__get_pydantic_json_schema__(schema, handler),
            "$comment": f"money: a decimal in a JSON string, never a number; {note}",
        }


Money = Annotated[Decimal, MoneyFormat("any")]
NonNegativeMoney = Annotated[Decimal, MoneyFormat("non_negative")]
PositiveMoney = Annotated[Decimal, MoneyFormat("positive")]
# KPIs follow the same no-float rule but are not money: no precision check.
DecimalString = Annotated[Decimal, DecimalFormat()]


# "XXX" (no currency) and "XTS" (testing) are ISO codes but never a debt's.
_NOT_FOR_DEBTS = frozenset({"XXX", "XTS"})


@cache
def known_currencies() -> frozenset[str]:
    """ISO 4217 codes babel (CLDR) knows, minus codes no debt is ever in."""
    return frozenset(babel.numbers.list_currencies()) - _NOT_FOR_DEBTS


@lru_cache(maxsize=1024)
def currency_precision(currency: str) -> int:
    """Decimal places the currency allows (EUR 2, JPY 0, BHD 3)."""
    return babel.numbers.get_currency_precision(currency)


def decimal_places(amount: Decimal) -> int:
    # the text of a plain decimal says it without building as_tuple()'s digit tuple (a tenth of the time)
    text = str(amount)
    if "E" not in text:
        point = text.find(".")
        return 0 if point < 0 else len(text) - point - 1
    exponent = amount.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


_CURRENCY_SYNTAX = re.compile(r"[A-Z]{3}")


def _validate_currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY_SYNTAX.fullmatch(value):
        raise PydanticCustomError(
            "currency_format", 'currency must be an ISO 4217 code of three upper-case letters, e.g. "EUR"'
        )
    if value not in known_currencies():
        raise PydanticCustomError("currency_unknown", f"unknown ISO 4217 currency {value!r}")
    return value


Currency = Annotated[
    str,
    JsonFast(_validate_currency, core_schema.custom_error_schema(
        core_schema.literal_schema(sorted(known_currencies())), custom_error_type="currency_unknown",
        custom_error_message="currency must be a known ISO 4217 code of three upper-case letters")),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "$comment": "ISO 4217 currency code"}),
]
