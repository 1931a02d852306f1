"""Shared fixtures: the real Kafka broker and the real PostgreSQL server.

A missing broker or database is a failure, never a skip: `make test` starts both.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.support import bootstrap


def _broker_answers(servers: str) -> str | None:
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe():
        admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=3000)
        await admin.start()
        try:
            await admin.describe_cluster()
        finally:
            await admin.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 10))
        return None
    except Exception as exc:  # noqa: BLE001 - reported below
        return repr(exc)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    servers = bootstrap()
    if err := _broker_answers(servers):
        pytest.fail(f"no Kafka broker answers at {servers} ({err}); run the suite with `make test`, "
                    f"or set KAFKA_BOOTSTRAP_SERVERS", pytrace=False)
    return servers


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("SOFTCOLLECT_TEST_DATABASE_URL")
    if not url:
        pytest.fail("SOFTCOLLECT_TEST_DATABASE_URL is not set; run the suite with `make test`", pytrace=False)
    import sqlalchemy as sa

    from softcollect_runtime.db import sync_url

    try:
        engine = sa.create_engine(sync_url(url))
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {url} does not answer: {exc}", pytrace=False)
    return url
