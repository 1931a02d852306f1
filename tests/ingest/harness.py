"""An ingest worker on the real broker and PostgreSQL, with its own topic namespace and tenants."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import sqlalchemy as sa

from softcollect_events import CloudEvent, Topic, decode_object, encode, example_event, topic_name
from softcollect_ingest.auth import hash_key, new_key
from softcollect_runtime.db import sync_url
from softcollect_runtime.kafka import ensure_topics
from softcollect_runtime.settings import KafkaSettings
from tests.support import WorkerProcess, bootstrap, free_port, produce, unique

TENANTS = {
    "acme": "name: Acme S.p.A.\ncountry: IT\ntimezone: Europe/Rome\n",
    "beta": "name: Beta GmbH\ncountry: DE\ntimezone: Europe/Berlin\n",
    "sim": "name: Simulated Srl\nsimulated: true\n",
}


class Ingest:
    def __init__(self, tmp: Path, pg_url: str) -> None:
        self.prefix = unique("ing") + "."
        self.config_dir = tmp / "config"
        (self.config_dir / "tenants").mkdir(parents=True)
        self.keys = {t: new_key(t) for t in TENANTS}
        for tenant, text in TENANTS.items():
            hashed = hash_key(self.keys[tenant])
            (self.config_dir / "tenants" / f"{tenant}.yaml").write_text(
                f"{text}api_keys:\n  - name: test\n    hash: \"{hashed}\"\n")
        self.schema = unique("ingest_")
        self.pg_url = pg_url
        self.worker = WorkerProcess("softcollect_ingest", {
            "SOFTCOLLECT_TOPIC_PREFIX": self.prefix, "SOFTCOLLECT_DATABASE_URL": pg_url,
            "SOFTCOLLECT_CONFIG_DIR": str(self.config_dir), "SOFTCOLLECT_WEB_PORT": str(free_port()),
            "SOFTCOLLECT_DATA_DIR": str(tmp / "data"), "SOFTCOLLECT_TENANT_RELOAD_SECONDS": "0.5",
            "SOFTCOLLECT_DB_SCHEMA": self.schema,
        }, tmp / "ingest.log")
        self.engine = sa.create_engine(sync_url(pg_url))

    def topic(self, logical: str | Topic, tenant: str | None = None) -> str:
        return topic_name(logical, self.prefix, tenantid=tenant)

    def inbound(self, tenant: str) -> str:
        return self.topic(Topic.inbound, tenant)

    async def add_tenant_topic(self, tenant: str) -> None:
        await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap()), [self.inbound(tenant)])

    async def send(self, tenant: str, *events: CloudEvent) -> None:
        await produce(self.inbound(tenant), [(e.key.encode(), encode(e, self.prefix, topic=Topic.inbound).value)
                                            for e in events])

    async def send_raw(self, tenant: str, key: bytes, *values: bytes) -> None:
        await produce(self.inbound(tenant), [(key, v) for v in values])

    def rejected_rows(self, tenant: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(f'SELECT * FROM "{self.schema}".rejected_events WHERE tenantid = :t'),
                                {"t": tenant}).mappings().all()
        return [dict(r) for r in rows]

    def stop(self) -> None:
        self.worker.stop()
        self.engine.dispose()


def event(type_: str, tenant: str = "acme", customer: str = "C-1", **data) -> CloudEvent:
    """The contract's example of ``type_``, for this tenant and customer, with a fresh id."""
    ev = example_event(type_)
    body = ev.data.model_dump(mode="json", exclude_none=True)
    body.update(data)
    return decode_object({**json.loads(ev.model_dump_json(exclude_none=True)), "tenantid": tenant,
                          "customerid": customer, "id": str(uuid.uuid4()), "data": body})
