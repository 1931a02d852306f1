"""``softcollect aging``: the aging report of a tenant for any past date."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

import sqlalchemy as sa

from softcollect_runtime.db import resolve_url, sync_url
from softcollect_runtime.settings import ServiceSettings

from .stack import state_file


def _database_url() -> str:
    if os.environ.get("SOFTCOLLECT_DATABASE_URL"):
        return os.environ["SOFTCOLLECT_DATABASE_URL"]
    if state_file().exists():
        return json.loads(state_file().read_text())["database_url"]
    return ServiceSettings().database_url_for("aging")


def run(args: argparse.Namespace) -> int:
    from softcollect_aging.config import AgingSettings, Policies
    from softcollect_aging.report import read_journal, render, replay

    url = sync_url(resolve_url(_database_url(), "aging"))
    schema = args.schema or os.environ.get("SOFTCOLLECT_DB_SCHEMA") or "aging"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text(f'SET search_path TO "{schema}"'))
            entries = read_journal(conn, args.tenant, args.as_of)
    finally:
        engine.dispose()
    policy = Policies(AgingSettings()).aging(args.tenant)
    sys.stdout.write(render(replay(args.tenant, entries, args.as_of, policy), args.as_of, args.csv) + "\n")
    return 0


def register(sub) -> None:
    p = sub.add_parser("aging", help="the aging report of a tenant as of any date (replays the ledger)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--as-of", required=True, type=dt.date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    p.add_argument("--schema", help="PostgreSQL schema of aging (default: aging)")
    p.set_defaults(func=run)
