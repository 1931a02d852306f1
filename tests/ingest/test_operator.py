"""`softcollect rejected list|show|replay` on ingest's own table in a fresh PostgreSQL schema,
replays checked on the real broker; `softcollect apikey new` checked against ingest's verifier."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from softcollect_cli.main import main
from softcollect_events import deterministic_id, new_event, to_json, topic_name
from softcollect_ingest.app import MIGRATIONS
from softcollect_ingest.auth import KeyVerifier
from softcollect_ingest.store import IngestRepository
from softcollect_runtime.db import create_engine, migrate, sync_url
from softcollect_runtime.kafka import ensure_topics
from softcollect_runtime.settings import KafkaSettings
from softcollect_runtime.tenants import load_tenant
from softcollect_runtime.uow import UnitOfWork
from tests.ingest.harness import event
from tests.support import bootstrap, eventually, read_all, unique, wait_for_records

pytestmark = [pytest.mark.broker, pytest.mark.database]

WHEN = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def schema(pg_url):
    name = unique("ingest_")
    migrate(pg_url, name, MIGRATIONS)  # ingest's own migration: the very table the tools read
    yield name
    engine = sa.create_engine(sync_url(pg_url))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    engine.dispose()


class Kept:
    """Rejections written by ingest's repository, for two tenants of this test alone."""

    def __init__(self, pg_url: str, schema: str, bootstrap: str) -> None:
        self.pg_url, self.schema = pg_url, schema
        self.prefix = unique("op") + "."
        self.kafka = KafkaSettings(bootstrap_servers=bootstrap)
        self.ghost, self.acme = unique("ghost"), unique("acme")
        self.ids: dict[str, str] = {}
        self.originals: dict[str, bytes] = {}

    def inbound(self, tenant: str) -> str:
        return topic_name("inbound", self.prefix, tenantid=tenant)

    async def keep(self, name: str, **row) -> None:
        row.setdefault("rejection_id", deterministic_id("test", self.prefix, name))
        engine = create_engine(self.pg_url, self.schema)
        try:
            async with UnitOfWork(engine, self.prefix, IngestRepository) as uow:
                assert await uow.repos.keep_rejected(**row)
                await uow.commit()
        finally:
            await engine.dispose()
        self.ids[name], self.originals[name] = row["rejection_id"], row["original"]

    async def populate(self) -> None:
        invoice = new_event("invoice.issued", {"invoice_id": "INV-9", "number": "2026/9", "issue_date": "2026-03-01",
                                               "due_date": "2026-03-31", "currency": "EUR", "amount": "90.00"},
                            source="erp/ghost", tenantid=self.ghost, customerid="C-9", time=WHEN)
        not_configured = f"tenant {self.ghost!r} is not configured in softcollect"
        await self.keep("unconfigured", tenantid=self.ghost, received_via="kafka", topic=self.inbound(self.ghost),
                        partition=0, offset=5, event_type="invoice.issued", event_id=invoice.id,
                        original=to_json(invoice), reasons=[{"path": "$.tenantid", "message": not_configured}])
        await self.keep("binary", tenantid=self.acme, received_via="kafka", topic=self.inbound(self.acme),
                        partition=1, offset=7, original=b"\xff\xfe\x00garbage",
                        reasons=[{"path": "$", "message": "not UTF-8: invalid byte at offset 0"}])
        payment = {"specversion": "1.0", "id": "p-1", "source": "erp/acme", "type": "payment.received",
                   "tenantid": self.acme, "customerid": "C-1",
                   "data": {"payment_id": "P-1", "amount": "-1", "currency": "EUR", "value_date": "2026-03-02"}}
        await self.keep("http", tenantid=self.acme, received_via="http", event_type="payment.received",
                        event_id="p-1", original=json.dumps(payment).encode(), reasons=[
                            {"path": "$.data.amount", "message": "must be greater than 0"},
                            {"path": "$.time", "message": "required attribute is missing"}])
        await self.keep("done", tenantid=self.acme, received_via="kafka", topic=self.inbound(self.acme),
                        partition=2, offset=1, original=b"{}", reasons=[{"path": "$.id", "message": "required"}])
        engine = sa.create_engine(sync_url(self.pg_url))
        with engine.begin() as conn:
            conn.execute(sa.text(f'UPDATE "{self.schema}".rejected_events SET replayed_at = now() '
                                 "WHERE rejection_id = :r"), {"r": self.ids["done"]})
        engine.dispose()
        await ensure_topics(self.kafka, [self.inbound(self.ghost), self.inbound(self.acme)], partitions=3)

    def replayed_at(self, name: str) -> dt.datetime | None:
        engine = sa.create_engine(sync_url(self.pg_url))
        with engine.connect() as conn:
            at = conn.scalar(sa.text(f'SELECT replayed_at FROM "{self.schema}".rejected_events '
                                     "WHERE rejection_id = :r"), {"r": self.ids[name]})
        engine.dispose()
        return at

    async def cli(self, *argv: str) -> int:
        # main() runs its own event loop (asyncio.run): give it a thread of its own.
        return await asyncio.to_thread(main, ["rejected", *argv, "--schema", self.schema])


@pytest.fixture
async def kept(pg_url, schema, kafka_bootstrap, monkeypatch):
    k = Kept(pg_url, schema, kafka_bootstrap)
    for name, value in {"SOFTCOLLECT_DATABASE_URL": pg_url, "SOFTCOLLECT_TOPIC_PREFIX": k.prefix,
                        "SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}.items():
        monkeypatch.setenv(name, value)
    await k.populate()
    return k


async def test_list_shows_open_rejections_with_their_first_reason(kept, capsys):
    assert await kept.cli("list") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["REJECTION", "ID", "RECEIVED", "AT", "TENANT", "VIA", "TYPE", "FIRST",
                                           "REASON", "REPLAYED"]
    for name in ("unconfigured", "binary", "http"):
        assert kept.ids[name] in out
    assert kept.ids["done"] not in out
    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", ln) for ln in out.splitlines()[1:])}
    _, received, tenant, via, type_, reason, replayed = rows[kept.ids["unconfigured"]]
    assert (tenant, via, type_, replayed) == (kept.ghost, "kafka", "invoice.issued", "no")
    assert reason == f"$.tenantid: tenant '{kept.ghost}' is not configured in softcollect"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", received)
    assert rows[kept.ids["http"]][3:6] == ["http", "payment.received", "$.data.amount: must be greater than 0"]
    assert rows[kept.ids["binary"]][4] == "-"  # the type of bytes that never decoded

    assert await kept.cli("list", "--all", "--tenant", kept.acme) == 0
    out = capsys.readouterr().out
    assert kept.ids["done"] in out and kept.ids["unconfigured"] not in out

    assert await kept.cli("list", "--tenant", kept.acme, "--limit", "1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert kept.ids["http"] in lines[1]  # newest first
    assert lines[2] == "(1 of 2 open rejections shown, newest first; --limit N for more)"


async def test_show_prints_every_reason_and_the_original(kept, capsys):
    assert await kept.cli("show", kept.ids["http"]) == 0
    out = capsys.readouterr().out
    assert f"tenant       {kept.acme}" in out and "via http" in out
    assert "  $.data.amount: must be greater than 0\n  $.time: required attribute is missing" in out
    assert out.rstrip("\n").endswith(kept.originals["http"].decode())

    assert await kept.cli("show", kept.ids["binary"][:8]) == 0  # a unique prefix will do
    out = capsys.readouterr().out
    assert f"topic {kept.inbound(kept.acme)}, partition 1, offset 7" in out
    assert "shown as base64" in out
    assert base64.b64encode(kept.originals["binary"]).decode() in out

    assert await kept.cli("show", "no-such-rejection") == 2
    assert "no rejection 'no-such-rejection'" in capsys.readouterr().err


async def test_replay_sends_the_original_bytes_to_its_topic_and_marks_it(kept, capsys):
    topic = kept.inbound(kept.ghost)
    assert await kept.cli("replay", kept.ids["unconfigured"]) == 0
    assert capsys.readouterr().out.strip() == f"replayed {kept.ids['unconfigured']} to {topic}"
    [record] = await wait_for_records(topic, 1)
    assert record.value == kept.originals["unconfigured"]
    assert record.key == f"{kept.ghost}:C-9".encode()
    assert kept.replayed_at("unconfigured") is not None

    assert await kept.cli("list") == 0
    assert kept.ids["unconfigured"] not in capsys.readouterr().out

    assert await kept.cli("replay", kept.ids["unconfigured"]) == 1  # once is what an operator means
    assert "already replayed" in capsys.readouterr().err
    assert await kept.cli("replay", kept.ids["unconfigured"], "--force") == 0
    assert len(await wait_for_records(topic, 2)) == 2


async def test_replay_all_open_of_a_tenant(kept, capsys):
    assert await kept.cli("replay", "--tenant", kept.acme, "--all-open") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    records = await wait_for_records(kept.inbound(kept.acme), 2)
    # HTTP input goes to the tenant's inbound topic: where the HTTP path puts what it accepts.
    assert sorted(r.value for r in records) == sorted([kept.originals["binary"], kept.originals["http"]])
    assert {r.key for r in records} == {f"{kept.acme}:_tenant".encode(), f"{kept.acme}:C-1".encode()}
    assert kept.replayed_at("binary") and kept.replayed_at("http")
    assert len(await read_all(kept.inbound(kept.acme))) == 2  # the replayed one stays replayed
    assert kept.replayed_at("unconfigured") is None  # another tenant's

    assert await kept.cli("replay", "--tenant", kept.acme, "--all-open") == 0
    assert capsys.readouterr().out.strip() == f"no open rejections of tenant {kept.acme}"


async def test_a_schema_without_ingest_tables_is_reported_not_raised(kept, capsys):
    code = await asyncio.to_thread(main, ["rejected", "list", "--schema", "no_such_schema"])
    assert code == 2
    assert "cannot read ingest's rejected_events (schema no_such_schema)" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["--all-open"], ["some-id", "--tenant", "x", "--all-open"]])
async def test_replay_needs_one_id_or_a_tenant_with_all_open(kept, capsys, argv):
    assert await kept.cli("replay", *argv) == 2
    assert "give either one REJECTION_ID or --tenant T --all-open" in capsys.readouterr().err


def test_apikey_new_prints_a_key_and_the_hash_for_the_tenant_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SOFTCOLLECT_CONFIG_DIR", str(tmp_path))
    assert main(["apikey", "new", "--tenant", "acme", "--name", "erp-prod"]) == 0
    out = capsys.readouterr().out
    key = next(line.strip() for line in out.splitlines() if line.strip().startswith("acme."))
    assert str(tmp_path / "tenants" / "acme.yaml") in out
    snippet = out[out.index("\napi_keys:\n") + 1:]
    assert key not in snippet  # only the hash goes in the file
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "acme.yaml").write_text("name: Acme S.p.A.\n" + snippet)
    config = load_tenant(tmp_path / "tenants" / "acme.yaml")
    assert [k.name for k in config.api_keys] == ["erp-prod"]
    assert KeyVerifier().tenant_for(key, config) == "acme"
    assert KeyVerifier().tenant_for(key[:-1] + ("A" if key[-1] != "A" else "B"), config) is None


# --- with a real ingest worker ------------------------------------------------------------------


async def test_a_rejection_replayed_once_its_tenant_is_configured_goes_through_ingest(ingest, monkeypatch, capsys):
    for name, value in {"SOFTCOLLECT_DATABASE_URL": ingest.pg_url, "SOFTCOLLECT_TOPIC_PREFIX": ingest.prefix,
                        "SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS": bootstrap()}.items():
        monkeypatch.setenv(name, value)
    late = unique("late")
    await ingest.add_tenant_topic(late)
    invoice = event("invoice.issued", tenant=late, customer="C-1")
    await ingest.send(late, invoice)
    [kept_row] = await eventually(lambda: ingest.rejected_rows(late), timeout=60)
    assert kept_row["reasons"][0]["path"] == "$.tenantid"

    (ingest.config_dir / "tenants" / f"{late}.yaml").write_text("name: Late Ltd\n")  # the operator's fix

    async def forwarded() -> bool:
        # Ingest rereads its tenants at most every reload interval: a replay that came too early is
        # rejected again, and --all-open replays that new rejection on the next round.
        code = await asyncio.to_thread(main, ["rejected", "replay", "--tenant", late, "--all-open",
                                              "--schema", ingest.schema])
        assert code == 0, capsys.readouterr().err
        records = await read_all(ingest.topic("invoices"))
        return any(json.loads(r.value)["id"] == invoice.id for r in records)

    await eventually(forwarded, timeout=60, interval=1)
    assert all(row["replayed_at"] is not None for row in ingest.rejected_rows(late))
