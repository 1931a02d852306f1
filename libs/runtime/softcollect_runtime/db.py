"""Database access shared by the services: engines, the runtime's own tables, migrations.

Each service owns one PostgreSQL schema (its name) and reaches it through
``search_path``, so its tables and its alembic version table are declared
without a schema. With SQLite each service has a file of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

T = TypeVar("T")

# The runtime's tables live in every service's schema beside the service's own tables.
runtime_metadata = sa.MetaData()

processed_events = sa.Table(
    "processed_events",
    runtime_metadata,
    # CloudEvents: `id` is unique per `source`; tenants are kept apart even if two clients reuse ids.
    sa.Column("tenantid", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(255), primary_key=True),
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_processed_events_age", "tenantid", "processed_at"),
)

outbox = sa.Table(
    "outbox",
    runtime_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("key", sa.LargeBinary, nullable=False),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def utcnow() -> dt.datetime:
    """Infrastructure time (bookkeeping only; business time comes from clock.tick)."""
    return dt.datetime.now(dt.UTC)


async def load_due_for_review(conn: AsyncConnection, table: sa.Table, tenantid: str, day: dt.date,
                              loaded: dict[tuple[str, str], T], from_state: Callable[[Any], T]) -> list[str]:
    """The debtors of a tenant's per-debtor rows whose ``next_review`` has come, by customer, read in
    one query and locked on PostgreSQL (a tick and a debtor's own events may meet on them). Each
    row's state goes into ``loaded``, unless the unit of work already holds that debtor (its
    version, changed earlier in the unit of work, wins)."""
    stmt = sa.select(table.c.customerid, table.c.state).where(
        table.c.tenantid == tenantid, table.c.next_review <= day).order_by(table.c.customerid)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    due = []
    for customerid, state in await conn.execute(stmt):
        due.append(customerid)
        if (tenantid, customerid) not in loaded:
            loaded[(tenantid, customerid)] = from_state(state)
    return due


def resolve_url(url: str, service: str) -> str:
    """`{service}` in a URL is replaced, so one SQLite template serves every service."""
    return url.replace("{service}", service)


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def create_engine(url: str, service: str, **kwargs) -> AsyncEngine:
    u = make_url(url)
    if u.get_backend_name() == "postgresql":
        return create_async_engine(
            u,
            connect_args={"server_settings": {"search_path": service}},
            pool_size=kwargs.pop("pool_size", 5),
            # no pre-ping (3 extra round trips per transaction): a dropped connection fails the
            # transaction with a transient error, which the processor retries on a fresh one.
            **kwargs,
        )
    _ensure_sqlite_dir(url)
    engine = create_async_engine(u, connect_args={"timeout": 30}, **kwargs)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):  # WAL lets the CLI read while the service writes
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def _ensure_sqlite_dir(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def sync_url(url: str) -> str:
    """The blocking-driver twin of an async URL, for alembic and CLI reports."""
    u = make_url(url)
    driver = {"postgresql": "postgresql+psycopg", "sqlite": "sqlite"}[u.get_backend_name()]
    return u.set(drivername=driver).render_as_string(hide_password=False)


def _sync_engine(url: str, service: str) -> sa.Engine:
    """A blocking engine whose connections see the service's schema; the schema is created."""
    _ensure_sqlite_dir(url)
    engine = sa.create_engine(sync_url(url))
    if is_postgres(url):
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{service}"'))

        @sa.event.listens_for(engine, "connect")
        def _search_path(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute(f'SET search_path TO "{service}"')
            cur.close()
            dbapi_conn.commit()

        engine.dispose()  # connections made before the listener would miss the search_path
    return engine


def create_tables(url: str, service: str, metadata: sa.MetaData) -> None:
    """Tables straight from metadata, with the runtime's: for test services without migrations."""
    engine = _sync_engine(url, service)
    try:
        with engine.begin() as conn:
            runtime_metadata.create_all(conn)
            metadata.create_all(conn)
    finally:
        engine.dispose()


def migrate(url: str, service: str, script_location: str | Path) -> None:
    """Bring the service's schema to the newest alembic revision (creates the PG schema first)."""
    from alembic import command
    from alembic.config import Config

    engine = _sync_engine(url, service)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(script_location))
        cfg.attributes["engine"] = engine
        cfg.attributes["service"] = service
        command.upgrade(cfg, "head")
    finally:
        engine.dispose()


def run_alembic_env() -> None:
    """Body of every service's ``migrations/env.py``: online migrations on the engine `migrate` passes."""
    from alembic import context

    cfg = context.config
    engine: sa.Engine = cfg.attributes["engine"]
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=None, render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


def create_runtime_tables() -> None:
    """Called from each service's first migration: the processed-events and outbox tables,
    spelled out (not from ``runtime_metadata``) so the migration never changes after the fact."""
    from alembic import op

    op.create_table(
        "processed_events",
        sa.Column("tenantid", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(255), primary_key=True),
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_events_age", "processed_events", ["tenantid", "processed_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
