"""Regenerate (or check) libs/events/schemas/*.json and libs/events/asyncapi.yaml.

python -m softcollect_events.generate            # write
python -m softcollect_events.generate --check    # exit 1 naming stale files
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .asyncapi import SCHEMA_DIR, asyncapi_document
from .json_schemas import event_schema, render
from .registry import REGISTRY

DEFAULT_OUT = Path(__file__).resolve().parent.parent  # libs/events in a checkout
ASYNCAPI_FILE = "asyncapi.yaml"


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line text, and no anchors for shared dicts:
    the document is read by people and diffed in review."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_all() -> dict[str, str]:
    """Relative path -> file content of every generated file."""
    files = {f"{SCHEMA_DIR}/{t}.json": render(event_schema(t)) for t in sorted(REGISTRY)}
    files[ASYNCAPI_FILE] = yaml.dump(
        asyncapi_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    return files


def stale(out: Path, files: dict[str, str]) -> list[str]:
    """Generated files that differ from or are missing in `out`, and orphaned schemas."""
    problems = [
        path
        for path, text in files.items()
        if not (out / path).is_file() or (out / path).read_text(encoding="utf-8") != text
    ]
    schema_dir = out / SCHEMA_DIR
    if schema_dir.is_dir():
        problems += [
            f"{SCHEMA_DIR}/{p.name}" for p in sorted(schema_dir.glob("*.json")) if f"{SCHEMA_DIR}/{p.name}" not in files
        ]
    return problems


def write(out: Path, files: dict[str, str]) -> None:
    (out / SCHEMA_DIR).mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        (out / path).write_text(text, encoding="utf-8", newline="\n")
    for orphan in (out / SCHEMA_DIR).glob("*.json"):
        if f"{SCHEMA_DIR}/{orphan.name}" not in files:
            orphan.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softcollect_events.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory to write into (default: libs/events)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file is stale")
    args = parser.parse_args(argv)
    files = render_all()
    if args.check:
        problems = stale(args.out, files)
        for path in problems:
            print(f"stale: {args.out / path}", file=sys.stderr)
        if problems:
            print("run: python -m softcollect_events.generate", file=sys.stderr)
            return 1
        print(f"{len(files)} generated files up to date")
        return 0
    write(args.out, files)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
