"""The live clock adapter over a real database: it emits each tenant's tick once, in its zone."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from softcollect_ingest.app import MIGRATIONS
from softcollect_ingest.clock import tick_live_tenants
from softcollect_ingest.config import TenantDirectory
from softcollect_ingest.store import IngestRepository
from softcollect_runtime.db import create_engine, migrate, outbox
from softcollect_runtime.uow import UnitOfWork


async def test_live_tenants_tick_once_per_business_day_in_their_own_zone(tmp_path):
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "rome.yaml").write_text("name: R\ntimezone: Europe/Rome\ncountry: IT\n")
    (tmp_path / "tenants" / "ny.yaml").write_text("name: N\ntimezone: America/New_York\ncountry: US\n")
    (tmp_path / "tenants" / "sim.yaml").write_text("name: S\nsimulated: true\n")
    url = f"sqlite+aiosqlite:///{tmp_path / 'ingest.db'}"
    migrate(url, "ingest", MIGRATIONS)
    engine = create_engine(url, "ingest")
    tenants = TenantDirectory(tmp_path)

    def new_uow():
        return UnitOfWork(engine, "softcollect.", IngestRepository)

    try:
        # 06:30 in Rome on Monday 2 March 2026 is 00:30 in New York: only Rome's day has started.
        monday_rome = dt.datetime(2026, 3, 2, 5, 30, tzinfo=dt.UTC)
        assert await tick_live_tenants(new_uow, tenants, monday_rome) == [("rome", dt.date(2026, 3, 2))]
        assert await tick_live_tenants(new_uow, tenants, monday_rome + dt.timedelta(minutes=1)) == []
        monday_ny = dt.datetime(2026, 3, 2, 11, 5, tzinfo=dt.UTC)
        assert await tick_live_tenants(new_uow, tenants, monday_ny) == [("ny", dt.date(2026, 3, 2))]
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(outbox.c.topic, outbox.c.key, outbox.c.value))).all()
        assert [(r.topic, r.key) for r in rows] == [("softcollect.clock", b"rome:_tenant"),
                                                   ("softcollect.clock", b"ny:_tenant")]
        first = json.loads(rows[0].value)
        assert first["type"] == "clock.tick" and first["data"] == {"business_date": "2026-03-02"}
    finally:
        await engine.dispose()
