"""The operator's side of ingest: ``softcollect import`` (CSV), ``softcollect rejected
list|show|replay`` and ``softcollect apikey new``. Argument handling and printing only; the
work is in ``softcollect_ingest.csv_import`` and ``softcollect_ingest.operator``.

Exit codes: 0 done; 1 done, but some rows were rejected (import), or the rejection was replayed
already (replay); 2 a usage or setup problem, nothing was sent; 3 the broker failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from aiokafka.errors import KafkaError

KINDS = ("invoices", "payments", "customers", "credit_notes")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="bulk-import a CSV file of invoices, payments, customers or credit notes",
                       description="Each row becomes one inbound event, checked as ingest checks it; the good "
                       "ones go to the tenant's inbound topic, the others to a rejects file. Columns: "
                       "services/ingest/README.md.")
    p.add_argument("--tenant", required=True, help="the tenant the file belongs to")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.add_argument("--rejects", type=Path, metavar="REJECTS.csv", help="default: FILE.rejects.csv beside FILE")
    p.add_argument("--source", help="CloudEvents source of the events; default csv/<file name>")
    p.set_defaults(func=_import)

    p = sub.add_parser("rejected", help="inputs ingest rejected: list, show, replay")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("list", help="open (not yet replayed) rejections, newest first")
    q.add_argument("--tenant")
    q.add_argument("--limit", type=_positive, default=50, help="at most this many rows (default 50)")
    q.add_argument("--all", action="store_true", help="replayed ones too")
    _schema_option(q)
    q.set_defaults(func=_list)
    q = actions.add_parser("show", help="one rejection in full: every reason and the original")
    q.add_argument("rejection_id", help="a rejection id, or a unique prefix of at least 8 characters")
    _schema_option(q)
    q.set_defaults(func=_show)
    q = actions.add_parser("replay", help="send originals through ingest again (e.g. after a config fix)")
    q.add_argument("rejection_id", nargs="?")
    q.add_argument("--tenant", help="with --all-open: every open rejection of this tenant")
    q.add_argument("--all-open", action="store_true")
    q.add_argument("--force", action="store_true", help="replay a rejection that was already replayed")
    _schema_option(q)
    q.set_defaults(func=_replay)

    p = sub.add_parser("apikey", help="HTTP intake keys")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("new", help="a new key for a tenant, with the hash to put in its file")
    q.add_argument("--tenant", required=True)
    q.add_argument("--name", help="label of the key in the tenant's file; default key-<UTC date and time>")
    q.set_defaults(func=_apikey_new)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _schema_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--schema", help="PostgreSQL schema of ingest's tables; default: $SOFTCOLLECT_DB_SCHEMA or ingest")


def _quiet_kafka_logs() -> None:
    # Without logging configured, aiokafka's retry warnings would reach the terminal; failures
    # reach the operator as exceptions, reported in one sentence.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _fail(command: str, message: str, code: int = 2) -> int:
    print(f"softcollect {command}: {message}", file=sys.stderr)
    return code


class Progress:
    """Rows checked, then rows acknowledged by the broker, redrawn in place on a terminal;
    silent when stderr is a file or a pipe."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label, self.total = label, total
        self.checked = self.sent = 0
        self.to_send: int | None = None  # known once every row is checked
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty()
        self._drawn = 0.0

    def add(self, checked: int = 0, sent: int = 0) -> None:
        self.checked += checked
        self.sent += sent
        if self._live and time.monotonic() - self._drawn >= 0.1:  # a terminal redraw costs more than a row
            self._draw()

    def _draw(self) -> None:
        self._drawn = time.monotonic()
        line = f"\r{self.label}: {self.checked}/{self.total} rows checked"
        if self.to_send:
            line += f", {self.sent}/{self.to_send} sent"
        self._stream.write(line)
        self._stream.flush()

    def close(self) -> None:
        if self._live:
            self._draw()
            self._stream.write("\n")


def _import(args: argparse.Namespace) -> int:
    from pydantic import TypeAdapter, ValidationError

    from softcollect_events import topic_name
    from softcollect_events.scalars import Source
    from softcollect_ingest import csv_import
    from softcollect_ingest.config import IngestSettings, TenantDirectory
    from softcollect_runtime.tenants import TenantConfigError

    settings = IngestSettings()
    path: Path = args.file
    rejects: Path = args.rejects or path.with_name(f"{path.stem}.rejects.csv")
    if not path.is_file():
        return _fail("import", f"{path}: no such file")
    if rejects.resolve() == path.resolve():
        return _fail("import", f"--rejects {rejects} is the file being imported")
    try:
        tenants = TenantDirectory(settings.config_dir, reload_seconds=0)
    except TenantConfigError as err:
        return _fail("import", str(err))
    if args.tenant not in tenants.configs:
        return _fail("import", f"tenant {args.tenant!r} is not configured: there is no "
                     f"{settings.config_dir / 'tenants' / (args.tenant + '.yaml')}")
    source = args.source or csv_import.default_source(path)
    try:
        TypeAdapter(Source).validate_python(source)
    except ValidationError as err:
        return _fail("import", f"--source {source!r}: {err.errors()[0]['msg']}")
    kind = csv_import.KINDS[args.kind]
    try:
        table = csv_import.parse_table(path.read_bytes())
        csv_import.check_header(kind, table.columns)
    except csv_import.UsageError as err:
        return _fail("import", f"{path}: {err}")

    topic = topic_name("inbound", settings.topic_prefix, tenantid=args.tenant)
    servers = settings.kafka.bootstrap_servers
    _quiet_kafka_logs()
    try:  # before the slow part: checking every row
        if not asyncio.run(csv_import.topic_exists(settings.kafka, topic)):
            return _fail("import", f"topic {topic} does not exist on {servers}: ingest creates the inbound topic "
                         "of each configured tenant when it starts; start (or restart) it, or create the topic")
    except (KafkaError, OSError, TimeoutError) as err:
        return _fail("import", f"the broker at {servers} cannot be reached ({type(err).__name__}: {err})", 3)

    progress = Progress(f"import {path.name}", len(table.rows))
    checked = []
    for c in csv_import.plan(table, kind, tenant=args.tenant, source=source, tenants=tenants.facts(args.tenant),
                             now=dt.datetime.now(dt.UTC), max_event_bytes=settings.max_event_bytes):
        checked.append(c)
        progress.add(checked=1)
    rejected = sum(c.event is None for c in checked)
    accepted = len(checked) - rejected
    if rejected:
        try:
            csv_import.write_rejects(rejects, table, checked)
        except OSError as err:
            progress.close()
            return _fail("import", f"cannot write the rejects file {rejects}: {err}; nothing was sent")
    progress.to_send = accepted
    failure = None
    try:
        if accepted:
            asyncio.run(csv_import.publish(checked, topic, settings.kafka, lambda n: progress.add(sent=n)))
    except (KafkaError, OSError, TimeoutError) as err:
        failure = (f"the broker at {servers} failed after {progress.sent} of {accepted} rows were acknowledged "
                   f"({type(err).__name__}: {err}). Importing the file again is safe: the rows already sent have "
                   "the same event ids and take effect once")
    progress.close()
    if failure:
        return _fail("import", failure, 3)
    print(f"imported {len(checked)} rows: {accepted} accepted, {rejected} rejected"
          + (f" (see {rejects})" if rejected else ""))
    return 1 if rejected else 0


def _ingest_database_url() -> str:
    """Ingest's database: SOFTCOLLECT_DATABASE_URL, else the running local stack's, else the
    default SQLite file of the settings."""
    from softcollect_runtime.db import resolve_url
    from softcollect_runtime.settings import ServiceSettings

    from . import stack

    settings = ServiceSettings()
    url = settings.database_url
    if url is None and stack.state_file().exists():
        url = json.loads(stack.state_file().read_text()).get("database_url")
    return resolve_url(url or settings.database_url_for("ingest"), "ingest")


def _with_engine(command: str, schema: str | None, work) -> int:
    import sqlalchemy as sa

    from softcollect_ingest import operator
    from softcollect_runtime.settings import ServiceSettings

    schema = schema or ServiceSettings().db_schema or "ingest"
    try:
        engine = operator.connect(_ingest_database_url(), schema)
    except operator.OperatorError as err:
        return _fail(command, str(err))
    try:
        return work(engine)
    except operator.OperatorError as err:
        return _fail(command, str(err))
    except sa.exc.SQLAlchemyError as err:
        return _fail(command, f"cannot read ingest's rejected_events (schema {schema}): "
                     f"{type(err).__name__}: {str(err).splitlines()[0]}")
    finally:
        engine.dispose()


def _list(args: argparse.Namespace) -> int:
    from softcollect_ingest import operator

    def work(engine) -> int:
        rows, total = operator.rejections(engine, tenant=args.tenant, limit=args.limit, include_replayed=args.all)
        what = "rejections" if args.all else "open rejections"
        if not rows:
            print(f"no {what}" + (f" of tenant {args.tenant}" if args.tenant else ""))
            return 0
        print(operator.table(rows))
        if total > len(rows):
            print(f"({len(rows)} of {total} {what} shown, newest first; --limit N for more)")
        return 0

    return _with_engine("rejected list", args.schema, work)


def _show(args: argparse.Namespace) -> int:
    from softcollect_ingest import operator

    def work(engine) -> int:
        print(operator.details(operator.find(engine, args.rejection_id)))
        return 0

    return _with_engine("rejected show", args.schema, work)


def _replay(args: argparse.Namespace) -> int:
    from softcollect_ingest import operator
    from softcollect_runtime.settings import ServiceSettings

    if bool(args.rejection_id) == bool(args.all_open) or (args.all_open and not args.tenant):
        return _fail("rejected replay", "give either one REJECTION_ID or --tenant T --all-open")
    settings = ServiceSettings()
    _quiet_kafka_logs()

    def work(engine) -> int:
        if args.all_open:
            rows, _ = operator.rejections(engine, tenant=args.tenant, limit=None, newest_first=False)
            if not rows:
                print(f"no open rejections of tenant {args.tenant}")
                return 0
        else:
            row = operator.find(engine, args.rejection_id)
            if row["replayed_at"] and not args.force:
                return _fail("rejected replay", f"{row['rejection_id']} was already replayed at "
                             f"{operator.when(row['replayed_at'])}; --force to send it again", 1)
            rows = [row]
        try:
            topics = operator.replay(engine, rows, settings.kafka, settings.topic_prefix)
        except (KafkaError, OSError, TimeoutError) as err:
            return _fail("rejected replay", f"the broker at {settings.kafka.bootstrap_servers} failed: "
                         f"{type(err).__name__}: {err}; nothing was marked replayed", 3)
        for row, topic in zip(rows, topics, strict=True):
            print(f"replayed {row['rejection_id']} to {topic}")
        return 0

    return _with_engine("rejected replay", args.schema, work)


def _apikey_new(args: argparse.Namespace) -> int:
    import yaml

    from softcollect_ingest.auth import hash_key, new_key
    from softcollect_runtime.settings import ServiceSettings
    from softcollect_runtime.tenants import TENANT_ID

    if not TENANT_ID.fullmatch(args.tenant):
        return _fail("apikey new", f"{args.tenant!r} is not a tenant id (1-64 characters of A-Z a-z 0-9 . _ -)")
    key = new_key(args.tenant)
    name = args.name or f"key-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
    entry = yaml.safe_dump([{"name": name, "hash": hash_key(key)}], sort_keys=False, width=1000)
    tenant_file = ServiceSettings().config_dir / "tenants" / f"{args.tenant}.yaml"
    print(f"New HTTP intake key of tenant {args.tenant}. It is shown only now: softcollect keeps its hash alone.\n")
    print(f"    {key}\n")
    print(f"Add this under api_keys: in {tenant_file} (write the api_keys: line if the file has none):\n")
    print("api_keys:")
    print("".join(f"  {line}\n" for line in entry.splitlines()), end="")
    return 0
