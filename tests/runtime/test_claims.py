"""Idempotency claims of a batch (`UnitOfWork.claim_many`), on PostgreSQL and SQLite: an event
claimed by an earlier unit of work, and a second copy inside the batch, are duplicates; every
other event is claimed once, and a rolled-back claim is no claim."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from softcollect_events import example_event
from softcollect_runtime.db import create_engine, create_tables
from softcollect_runtime.uow import UnitOfWork
from tests.support import unique


def event(n: int, source: str = "erp/acme-sap"):
    return example_event("invoice.issued").model_copy(update={"id": f"evt-{n}", "source": source})


@pytest.fixture(params=["postgres", "sqlite"])
async def engine(request, tmp_path):
    if request.param == "postgres":
        url, schema = request.getfixturevalue("pg_url"), unique("claims_")
    else:
        url, schema = f"sqlite+aiosqlite:///{tmp_path / 'claims.db'}", "main"
    create_tables(url, schema, sa.MetaData())
    engine = create_engine(url, schema)
    yield engine
    await engine.dispose()


async def test_claims_of_a_batch(engine):
    async with UnitOfWork(engine, "unused.") as uow:
        assert await uow.claim_many([event(1), event(2)]) == [True, True]
        await uow.commit()
    async with UnitOfWork(engine, "unused.") as uow:
        assert await uow.claim_many([event(9)]) == [True]  # rolled back below: not a claim
    batch = [event(3), event(1), event(3), event(4), event(2, source="erp/other"), event(9)]
    async with UnitOfWork(engine, "unused.") as uow:
        assert await uow.claim_many(batch) == [True, False, False, True, True, True]
        assert [e.id for e in uow.claimed] == ["evt-3", "evt-4", "evt-2", "evt-9"]
        await uow.commit()
    async with UnitOfWork(engine, "unused.") as uow:
        assert await uow.claim_many([event(n) for n in (1, 2, 3, 4, 9)]) == [False] * 5
        assert await uow.claim_many([]) == []
