"""CSV bulk import: each row of a client's export becomes one inbound CloudEvent.

Rows are checked exactly as ingest checks a Kafka event (``decode_object`` + ``screen``) and
the good ones go to the tenant's inbound topic, so ingest validates, deduplicates and routes
them like any other event. Event ids derive from the row's business key, so a file imported
twice has no second effect. The first part is pure (bytes in, events and reasons out); the IO
(the broker, the rejects file) is at the end. Column mapping: services/ingest/README.md.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import datetime as dt
import difflib
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from softcollect_events import REGISTRY, CloudEvent, DecodeError, Reason, decode_object, deterministic_id
from softcollect_runtime.kafka import make_producer
from softcollect_runtime.settings import KafkaSettings

from .domain import TenantFacts, screen


class UsageError(ValueError):
    """The file as a whole cannot be imported (encoding, header); nothing is sent."""


@dataclass(frozen=True)
class Kind:
    name: str
    type: str
    key: str  # the business key column: the event's subject and the seed of its id
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    lists: frozenset[str] = frozenset()  # cells holding `;`-separated values
    installments: bool = False
    # An upsert carries current master data: a changed row must be a new event, a re-import not.
    content_in_id: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("invoices", "invoice.issued", "invoice_id",
         ("customer_id", "invoice_id", "number", "issue_date", "due_date", "currency", "amount"),
         installments=True),
    Kind("payments", "payment.received", "payment_id",
         ("customer_id", "payment_id", "amount", "currency", "value_date"),
         ("invoice_refs", "remittance", "method"), lists=frozenset({"invoice_refs"})),
    Kind("customers", "customer.upserted", "customer_id", ("customer_id", "name"),
         ("emails", "phone", "language", "country", "segment", "credit_limit", "currency", "account_manager"),
         lists=frozenset({"emails"}), content_in_id=True),
    Kind("credit_notes", "credit_note.issued", "credit_note_id",
         ("customer_id", "credit_note_id", "amount", "currency", "issue_date"), ("invoice_id",)),
)}

_INSTALLMENT = re.compile(r"installment_([1-9][0-9]*)_(due_date|amount)")
_ROW = "row"  # the label of a reason about the row as a whole
_MISSING = frozenset({"required field is missing", "required attribute is missing"})  # the codec's words for JSON


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line of the file where the row starts
    cells: list[str]


@dataclass(frozen=True)
class Table:
    header: list[str]  # as written, for the rejects file
    columns: list[str]  # normalised: stripped, lower case
    rows: list[Row]
    delimiter: str
    bom: bool


@dataclass(frozen=True)
class Checked:
    row: Row
    event: CloudEvent | None  # None: rejected
    body: bytes = b""
    problems: str = ""


def parse_table(raw: bytes) -> Table:
    bom = raw.startswith(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"the file is not UTF-8 (invalid byte at offset {exc.start}); save it as UTF-8 CSV") from None
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[Row] = []
    try:
        start = 1
        for cells in reader:
            if any(c.strip() for c in cells):
                if header is None:
                    header = cells
                else:
                    rows.append(Row(start, cells))
            start = reader.line_num + 1  # a quoted cell may span lines: a row starts after the last one
    except csv.Error as exc:
        raise UsageError(f"line {reader.line_num}: not readable as CSV: {exc}") from None
    if header is None:
        raise UsageError("the file is empty: expected a header row naming the columns")
    return Table(header, [h.strip().lower() for h in header], rows, delimiter, bom)


def sniff_delimiter(text: str) -> str:
    """`;` (what spreadsheets write where the decimal separator is a comma) or `,`, judged on the
    header line alone: data cells may hold either character, column names hold neither."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def installment_numbers(columns: Sequence[str]) -> list[int]:
    return sorted({int(m[1]) for c in columns if (m := _INSTALLMENT.fullmatch(c))})


def check_header(kind: Kind, columns: Sequence[str]) -> None:
    """Every problem of the header at once, naming each column."""
    problems = []
    seen = set()
    for c in columns:
        if c in seen:
            problems.append(f"column {c!r} appears twice")
        seen.add(c)
    missing = [c for c in kind.required if c not in seen]
    if missing:
        problems.append(f"missing required column{'s' if len(missing) > 1 else ''} "
                        + ", ".join(repr(c) for c in missing))
    known = set(kind.columns)
    for c in columns:
        if c in known or (kind.installments and _INSTALLMENT.fullmatch(c)):
            continue
        close = difflib.get_close_matches(c, kind.columns, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"unknown column {c!r}{hint}" if c else "a column has no name")
    if kind.installments:
        for n in installment_numbers(columns):
            for part in ("due_date", "amount"):
                if f"installment_{n}_{part}" not in seen:
                    problems.append(f"missing column 'installment_{n}_{part}': installment columns come in pairs")
    if problems:
        raise UsageError(f"the header does not fit {kind.name}: " + "; ".join(problems)
                         + f". Columns of {kind.name}: " + ", ".join(kind.columns)
                         + (", installment_N_due_date, installment_N_amount" if kind.installments else ""))


def _items(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def row_event(kind: Kind, columns: Sequence[str], cells: Sequence[str], *, tenant: str, source: str,
              now: dt.datetime) -> tuple[dict, list[int]]:
    """The CloudEvent (as JSON) of one row, and the installment number behind each list index.
    Empty cells are absent fields; everything else is kept as written, money included."""
    values = {c: cells[i] for i, c in enumerate(columns) if i < len(cells) and cells[i].strip()}
    data: dict = {}
    for c in kind.columns:
        if c != "customer_id" and c in values:
            if c in kind.lists:
                if items := _items(values[c]):
                    data[c] = items
            else:
                data[c] = values[c]
    used: list[int] = []
    if kind.installments:
        installments = []
        for n in installment_numbers(columns):
            part = {f: values[f"installment_{n}_{f}"] for f in ("due_date", "amount")
                    if f"installment_{n}_{f}" in values}
            if part:
                installments.append(part)
                used.append(n)
        if installments:
            data["installments"] = installments
    key = values.get(kind.key, "")
    seed = ["csv", tenant, kind.name, key]
    if kind.content_in_id:
        seed.append(hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest())
    event = {"specversion": "1.0", "id": deterministic_id(*seed), "source": source, "type": kind.type,
             "time": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"), "tenantid": tenant,
             "schemaversion": REGISTRY[kind.type].schemaversion, "datacontenttype": "application/json",
             "data": data}
    if "customer_id" in values:
        event["customerid"] = values["customer_id"]
    if key:
        event["subject"] = key
    return event, used


def check_event(event: dict, tenant: str, tenants: Mapping[str, TenantFacts],
                max_event_bytes: int) -> tuple[CloudEvent | None, bytes, list[Reason]]:
    """Ingest's own checks, in ingest's order: size, contract, gate."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    if len(body) > max_event_bytes:
        return None, body, [Reason("$", f"the event is {len(body)} bytes; at most {max_event_bytes} are accepted")]
    try:
        parsed = decode_object(event)
    except DecodeError as err:
        return None, body, err.reasons
    reasons = screen(parsed, tenant, tenants, None)
    return (None, body, reasons) if reasons else (parsed, body, [])


def column_of(path: str, kind: Kind, installments: Sequence[int]) -> str:
    """The CSV column a reason's JSON path points at; the path itself where no column maps."""
    if path == "$.customerid":
        return "customer_id"
    if path == "$.subject":
        return kind.key
    if m := re.fullmatch(r"\$\.data\.installments\[(\d+)\]\.(due_date|amount)", path):
        return f"installment_{installments[int(m[1])]}_{m[2]}"
    if path.startswith("$.data.installments"):
        return "installment_*"  # e.g. the sum: no single column holds the mistake
    if (m := re.fullmatch(r"\$\.data\.(\w+)(?:\[(\d+)\])?", path)) and m[1] in kind.columns:
        return m[1] if m[2] is None else f"{m[1]} (item {int(m[2]) + 1})"
    return path


def describe(reasons: Sequence[Reason], kind: Kind, installments: Sequence[int]) -> str:
    """`column: message; ...` — what the rejects file says of a row."""
    texts = []
    for r in reasons:
        message = "required, but no value is given" if r.message in _MISSING else r.message
        texts.append(f"{column_of(r.path, kind, installments)}: {message}")
    return "; ".join(dict.fromkeys(texts))


def plan(table: Table, kind: Kind, *, tenant: str, source: str, tenants: Mapping[str, TenantFacts],
         now: dt.datetime, max_event_bytes: int) -> Iterator[Checked]:
    """Every row checked, in file order (lazily: checking is most of an import's time, and the
    caller shows progress). A business key already accepted on an earlier line is refused: its
    event id would be the same, so ingest would drop it without a word."""
    accepted_on: dict[str, int] = {}
    width = len(table.columns)
    for row in table.rows:
        if len(row.cells) > width:
            yield Checked(row, None, problems=(
                f"{_ROW}: {len(row.cells)} cells but the header has {width} columns (a stray delimiter?)"))
            continue
        event, used = row_event(kind, table.columns, row.cells, tenant=tenant, source=source, now=now)
        parsed, body, reasons = check_event(event, tenant, tenants, max_event_bytes)
        key = event.get("subject", "")
        if reasons:
            yield Checked(row, None, body, describe(reasons, kind, used))
        elif key in accepted_on:
            yield Checked(row, None, body, f"{kind.key}: {key!r} is already on line {accepted_on[key]} "
                                           "of this file; one row per key")
        else:
            accepted_on[key] = row.line
            yield Checked(row, parsed, body)


def default_source(path: Path) -> str:
    # CloudEvents `source` is a URI reference: a file name with spaces is percent-encoded.
    return "csv/" + quote(path.name, safe="")


def rejects_csv(table: Table, checked: Sequence[Checked]) -> str:
    """The rejected rows as CSV in the input's own dialect: line, the original cells, reasons."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=table.delimiter, lineterminator="\r\n")
    writer.writerow(["line", *table.header, "reasons"])
    for c in checked:
        if c.event is None:
            cells = c.row.cells + [""] * (len(table.header) - len(c.row.cells))
            writer.writerow([c.row.line, *cells, c.problems])
    return out.getvalue()


# --- IO -----------------------------------------------------------------------------------


def write_rejects(path: Path, table: Table, checked: Sequence[Checked]) -> None:
    # A BOM in, a BOM out: it is how spreadsheet programs recognise UTF-8.
    path.write_text(rejects_csv(table, checked), encoding="utf-8-sig" if table.bom else "utf-8", newline="")


async def topic_exists(kafka: KafkaSettings, topic: str, patience: float = 5.0) -> bool:
    """Asked up front: brokers here never create topics on the fly, and a producer would only find
    out after its request timeout. A topic created a moment ago may take a moment to show in
    the broker's metadata, hence a few seconds of asking before the answer is no."""
    producer = make_producer(kafka, client_id="softcollect-csv-import")
    try:
        await producer.start()
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            metadata = await producer.client.fetch_all_metadata()
            if topic in metadata.topics():
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.25)
    finally:
        await producer.stop()


async def publish(checked: Iterable[Checked], topic: str, kafka: KafkaSettings,
                  on_ack: Callable[[int], None] = lambda n: None, window: int = 1000) -> int:
    """Produce every accepted row to ``topic`` and wait for each ack; returns how many were acked.
    A bounded window of unacknowledged sends keeps a large file's memory flat."""
    producer = make_producer(kafka, client_id="softcollect-csv-import")
    acked = 0
    try:
        await producer.start()
        pending = []
        for c in checked:
            if c.event is None:
                continue
            pending.append(await producer.send(topic, value=c.body, key=c.event.key.encode()))
            if len(pending) >= window:
                for ack in pending:
                    await ack
                acked += len(pending)
                on_ack(len(pending))
                pending = []
        for ack in pending:
            await ack
        acked += len(pending)
        on_ack(len(pending))
    finally:
        await producer.stop()
    return acked
