"""Ingest's alembic migrations build exactly the tables its code declares, on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from softcollect_ingest.app import MIGRATIONS
from softcollect_ingest.store import metadata as ingest_metadata
from softcollect_runtime.db import migrate, runtime_metadata, sync_url
from tests.support import unique


def declared() -> sa.MetaData:
    both = sa.MetaData()
    for md in (runtime_metadata, ingest_metadata):
        for table in md.tables.values():
            table.to_metadata(both)
    return both


def differences(url: str, schema: str | None) -> list:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            if schema:
                conn.execute(sa.text(f'SET search_path TO "{schema}"'))
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(ctx, declared())
        # alembic's own version table is not ours to declare
        return [d for d in diffs if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    finally:
        engine.dispose()


@pytest.mark.database
def test_postgres_schema_matches_the_code(pg_url):
    schema = unique("ingest_mig_")
    migrate(pg_url, schema, MIGRATIONS)
    migrate(pg_url, schema, MIGRATIONS)  # idempotent: a restart re-runs it
    assert differences(pg_url, schema) == []


def test_sqlite_schema_matches_the_code(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'ingest.db'}"
    migrate(url, "ingest", MIGRATIONS)
    assert differences(url, None) == []
