"""Running aging and reminders as real workers on the real broker and PostgreSQL, with a real
SMTP server, and driving a simulated tenant's business days through them."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from softcollect_events import TENANT_CUSTOMERID, CloudEvent, Topic, encode, new_event, topic_name
from softcollect_reminders.smtp_sink import read_sink
from softcollect_runtime.db import sync_url
from tests.support import REPO, WorkerProcess, eventually, free_port, produce, read_all, unique

TENANT = "acme"
TENANT_YAML = "name: Acme Forniture S.r.l.\nsimulated: true\ncountry: IT\nlanguage: it\n" \
              "reminders:\n  sender: 'Acme Forniture <crediti@acme.example>'\n"


class Database:
    """Read a service's tables (its own schema) from the test."""

    def __init__(self, pg_url: str, schema: str) -> None:
        self.schema = schema
        self.engine = sa.create_engine(sync_url(pg_url))

    def rows(self, sql: str, **params: Any) -> list[Any]:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text(f'SET search_path TO "{self.schema}"'))
                return list(conn.execute(sa.text(sql), params))
        except sa.exc.ProgrammingError:  # tables not created yet
            return []

    def scalar(self, sql: str, **params: Any) -> Any:
        rows = self.rows(sql, **params)
        return rows[0][0] if rows else None


class SmtpServer:
    """The local SMTP sink as its own process (as `softcollect stack up` runs it)."""

    def __init__(self, directory: Path, port: int, log: Path) -> None:
        self.directory, self.port, self.log = directory, port, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> SmtpServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "softcollect_reminders.smtp_sink", "--dir", str(self.directory),
             "--port", str(self.port)], cwd=REPO, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while "listening" not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"smtp sink did not start: {self.log.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def messages(self) -> list[EmailMessage]:
        return read_sink(self.directory)


class Services:
    """Aging (optional) and reminders on one topic prefix, each with its own schema."""

    def __init__(self, tmp: Path, pg_url: str, smtp_port: int, *, with_aging: bool = True,
                 mail_env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.prefix = unique("rem") + "."
        config = tmp / "config"
        (config / "tenants").mkdir(parents=True, exist_ok=True)
        (config / "tenants" / f"{TENANT}.yaml").write_text(TENANT_YAML)
        common = {"SOFTCOLLECT_TOPIC_PREFIX": self.prefix, "SOFTCOLLECT_DATABASE_URL": pg_url,
                  "SOFTCOLLECT_CONFIG_DIR": str(config), "SOFTCOLLECT_DATA_DIR": str(tmp / "data"),
                  "SOFTCOLLECT_COMMIT_INTERVAL_SECONDS": "0.2"}
        self.reminders_db = Database(pg_url, unique("reminders_"))
        self.aging_db = Database(pg_url, unique("aging_"))
        self.reminders = WorkerProcess("softcollect_reminders", {
            **common, "SOFTCOLLECT_WEB_PORT": str(free_port()), "SOFTCOLLECT_DB_SCHEMA": self.reminders_db.schema,
            "SOFTCOLLECT_SMTP_PORT": str(smtp_port), "SOFTCOLLECT_MAIL_POLL_SECONDS": "0.2",
            **(mail_env or {})}, tmp / "reminders.log")
        self.aging = WorkerProcess("softcollect_aging", {
            **common, "SOFTCOLLECT_WEB_PORT": str(free_port()), "SOFTCOLLECT_DB_SCHEMA": self.aging_db.schema,
        }, tmp / "aging.log") if with_aging else None

    def start(self) -> Services:
        if self.aging:
            self.aging.start()
        self.reminders.start()
        return self

    def stop(self) -> None:
        for worker in (self.reminders, self.aging):
            if worker:
                worker.stop()

    def topic(self, t: Topic) -> str:
        return topic_name(t, self.prefix)

    async def send(self, type_: str, customer: str, data: dict, day: dt.date, source: str = "erp/acme",
                   caused_by: CloudEvent | None = None) -> CloudEvent:
        ev = new_event(type_, data, source=source, tenantid=TENANT, customerid=customer, caused_by=caused_by,
                       time=dt.datetime.combine(day, dt.time(9), dt.UTC), id=str(uuid.uuid4()))
        rec = encode(ev, self.prefix)
        await produce(rec.topic, [(rec.key, rec.value)])
        return ev

    async def tick(self, day: dt.date) -> None:
        await self.send("clock.tick", TENANT_CUSTOMERID, {"business_date": day.isoformat()}, day)
        await self.day_done(day)

    async def day_done(self, day: dt.date, timeout: float = 30.0) -> None:
        """Both services took the tick, and the mail queue holds nothing still to send."""
        def done() -> bool:
            if self.aging and self.aging_db.scalar("SELECT business_date FROM tenant_days") != day:
                return False
            if self.reminders_db.scalar("SELECT business_date FROM tenant_days") != day:
                return False
            return not self.reminders_db.scalar(
                "SELECT count(*) FROM messages WHERE status IN ('pending', 'sending')")
        await eventually(done, timeout=timeout)

    def debtor(self, customerid: str) -> dict:
        state = self.reminders_db.scalar("SELECT state FROM debtors WHERE customerid = :c", c=customerid)
        return state or {}

    async def outcomes(self, type_: str | None = None) -> list[dict]:
        records = [json.loads(r.value) for r in await read_all(self.topic(Topic.reminders))]
        return [r for r in records if type_ is None or r["type"] == type_]
