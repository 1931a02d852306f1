"""The aging report of any past date, by replaying a tenant's journal up to it.

The journal holds every event that changed a ledger, with the business date it was applied
on; folding them through the same transitions the service runs, then aging to the date,
gives the ledgers as they stood that day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from softcollect_events import REGISTRY
from softcollect_runtime.tenants import AgingPolicy

from . import domain
from .domain import Ledger
from .handlers import apply
from .store import journal

BUCKETS = ("not_due", "d1_30", "d31_60", "d61_90", "d91_120", "over_120")


@dataclass(frozen=True)
class JournalEntry:
    customerid: str
    business_date: dt.date
    type: str
    data: dict


@dataclass(frozen=True)
class AgingLine:
    customerid: str
    currency: str
    open_amount: Decimal
    buckets: dict[str, Decimal]
    disputed: Decimal
    unapplied: Decimal


def replay(tenantid: str, entries: Iterable[JournalEntry], as_of: dt.date, policy: AgingPolicy) -> list[AgingLine]:
    ledgers: dict[str, Ledger] = {}
    for e in entries:
        if e.business_date > as_of:
            continue
        ledger = ledgers.setdefault(e.customerid, Ledger(tenantid=tenantid, customerid=e.customerid))
        apply(ledger, e.type, REGISTRY[e.type].model.model_validate(e.data), e.business_date, policy)
    lines = []
    for customerid in sorted(ledgers):
        ledger = ledgers[customerid]
        domain.tick(ledger, as_of, policy)
        for snap in ledger.snapshot(as_of):
            d = snap.data
            lines.append(AgingLine(customerid, d["currency"], Decimal(d["open_amount"]),
                                   {b: Decimal(d["buckets"][b]) for b in BUCKETS}, Decimal(d["disputed"]),
                                   Decimal(d["unapplied"])))
    return lines


def read_journal(conn: sa.Connection, tenantid: str, as_of: dt.date) -> list[JournalEntry]:
    rows = conn.execute(sa.select(journal.c.customerid, journal.c.business_date, journal.c.type, journal.c.data)
                        .where(journal.c.tenantid == tenantid, journal.c.business_date <= as_of)
                        .order_by(journal.c.seq))
    return [JournalEntry(*row) for row in rows]


def render(lines: list[AgingLine], as_of: dt.date, as_csv: bool = False) -> str:
    header = ["customer", "currency", "open_amount", *BUCKETS, "disputed", "unapplied"]
    rows = [[ln.customerid, ln.currency, str(ln.open_amount), *(str(ln.buckets[b]) for b in BUCKETS),
             str(ln.disputed), str(ln.unapplied)] for ln in lines]
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()
    totals: dict[str, list[Decimal]] = {}
    for ln in lines:
        t = totals.setdefault(ln.currency, [Decimal(0)] * (len(BUCKETS) + 1))
        for n, v in enumerate([ln.open_amount, *(ln.buckets[b] for b in BUCKETS)]):
            t[n] += v
    rows += [["TOTAL", cur, *(str(v) for v in t), "", ""] for cur, t in sorted(totals.items())]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([f"aging as of {as_of.isoformat()}", fmt.format(*header), *(fmt.format(*r) for r in rows)])
