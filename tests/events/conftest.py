from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from softcollect_events import DecodeError, decode, example_event, quick, to_json

ROOT = Path(__file__).resolve().parents[2]
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"
LIB = ROOT / "libs" / "events"


def example_json(type: str, index: int = 0) -> dict[str, Any]:
    """A valid event of `type` as a mutable JSON object."""
    return json.loads(to_json(example_event(type, index)))


def reasons_of(raw: bytes | str | dict[str, Any]) -> dict[str, str]:
    """path -> message of every reason decode() gives; fails if it decodes."""
    if isinstance(raw, dict):
        raw = json.dumps(raw).encode("utf-8")
    if isinstance(raw, bytes):
        assert quick.accept(raw) is None, "decode's quick path took an input the full path refuses"
    with pytest.raises(DecodeError) as info:
        decode(raw)
    reasons = info.value.reasons
    assert reasons, "a DecodeError must carry reasons"
    return {r.path: r.message for r in reasons}


def shared_schema(name: str) -> dict[str, Any]:
    path = SHARED_SCHEMAS / name
    if not path.is_file():  # CI lays shared/ beside the clone: its absence is an error, not a skip
        pytest.fail(f"{path} not found: the shared schemas must sit in ../shared/schemas", pytrace=False)
    return json.loads(path.read_text(encoding="utf-8"))
