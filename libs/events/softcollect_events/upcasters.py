"""Upcasters turn an older `data` shape into the next schemaversion, so a
breaking change to a type never breaks clients still sending the old one."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .registry import REGISTRY

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UpcastError(Exception):
    pass


def register_upcaster(type: str, from_version: int, fn: Upcaster) -> None:
    """Register `fn`, turning `data` of `type` at `from_version` into
    `from_version + 1`. Decode chains them up to the registry's version."""
    if type not in REGISTRY:
        raise ValueError(f"unknown event type {type!r}")
    if from_version < 1:
        raise ValueError("from_version must be >= 1")
    if (type, from_version) in _UPCASTERS:
        raise ValueError(f"an upcaster from schemaversion {from_version} of {type} is already registered")
    _UPCASTERS[(type, from_version)] = fn


def unregister_upcaster(type: str, from_version: int) -> None:
    _UPCASTERS.pop((type, from_version), None)


def upcast(type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """Apply the chain from `version` to the current one; `data` is not mutated."""
    current = REGISTRY[type].schemaversion
    data = copy.deepcopy(data)
    for step in range(version, current):
        fn = _UPCASTERS.get((type, step))
        if fn is None:
            raise UpcastError(f"no upcaster registered from schemaversion {step} of {type}")
        try:
            data = fn(data)
        except Exception as exc:  # an upcaster bug must become a rejection, not a crash
            raise UpcastError(f"upcasting {type} from schemaversion {step} failed: {exc}") from exc
        if not isinstance(data, dict):
            raise UpcastError(f"upcaster from schemaversion {step} of {type} returned {type_name(data)}, not an object")
    return data


def type_name(value: Any) -> str:
    return type(value).__name__
