"""Each service's alembic migrations build exactly the tables its code declares, on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import softcollect_aging.app
import softcollect_aging.store
import softcollect_ingest.app
import softcollect_ingest.store
import softcollect_reminders.app
import softcollect_reminders.store
from softcollect_runtime.db import migrate, runtime_metadata, sync_url
from tests.support import unique

SERVICES = {
    "ingest": (softcollect_ingest.app.MIGRATIONS, softcollect_ingest.store.metadata),
    "aging": (softcollect_aging.app.MIGRATIONS, softcollect_aging.store.metadata),
    "reminders": (softcollect_reminders.app.MIGRATIONS, softcollect_reminders.store.metadata),
}


def declared(service_metadata: sa.MetaData) -> sa.MetaData:
    both = sa.MetaData()
    for md in (runtime_metadata, service_metadata):
        for table in md.tables.values():
            table.to_metadata(both)
    return both


def differences(url: str, schema: str | None, service_metadata: sa.MetaData) -> list:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            if schema:
                conn.execute(sa.text(f'SET search_path TO "{schema}"'))
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(ctx, declared(service_metadata))
        # alembic's own version table is not ours to declare
        return [d for d in diffs if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    finally:
        engine.dispose()


@pytest.mark.database
@pytest.mark.parametrize("service", SERVICES)
def test_postgres_schema_matches_the_code(pg_url, service):
    migrations, metadata = SERVICES[service]
    schema = unique(f"{service}_mig_")
    migrate(pg_url, schema, migrations)
    migrate(pg_url, schema, migrations)  # idempotent: a restart re-runs it
    assert differences(pg_url, schema, metadata) == []


@pytest.mark.parametrize("service", SERVICES)
def test_sqlite_schema_matches_the_code(tmp_path, service):
    migrations, metadata = SERVICES[service]
    url = f"sqlite+aiosqlite:///{tmp_path / f'{service}.db'}"
    migrate(url, service, migrations)
    assert differences(url, None, metadata) == []
