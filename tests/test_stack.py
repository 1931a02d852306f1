"""`softcollect stack up/status/down` on this machine: a real broker from the Maven jars, every
service that exists and the SMTP sink reminders sends to, described in stack.json, stopped again."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from softcollect_cli import stack
from softcollect_events import TENANT_CUSTOMERID, Topic, topic_name
from softcollect_runtime.settings import KafkaSettings
from tests.support import REPO, free_port

TENANT = "stacktest"
TENANT_YAML = ("name: Stack Test S.r.l.\nsimulated: true\ncountry: IT\nlanguage: it\n"
               "reminders:\n  sender: 'Stack Test <crediti@stacktest.example>'\n")
MONDAY = dt.date(2026, 3, 2)


def softcollect(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "softcollect_cli.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def inbound(type_: str, customer: str, data: dict) -> dict:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "erp/stacktest", "type": type_,
            "time": f"{MONDAY.isoformat()}T09:00:00+01:00", "tenantid": TENANT, "customerid": customer,
            "datacontenttype": "application/json", "data": data}


async def courtesy_day(state: dict) -> None:
    """A debtor whose invoice falls due in 8 days, then the next day's tick (its courtesy e-mail is
    due); each step waits on the demo's gate: no lag, the tick taken, reminders' mail queue empty."""
    from softcollect_cli.demo import Progress, ServiceTables
    from softcollect_runtime.kafka import make_producer

    kafka = KafkaSettings(bootstrap_servers=state["bootstrap_servers"])
    topic = topic_name(Topic.inbound, "softcollect.", tenantid=TENANT)
    producer = make_producer(kafka, "stack-test")
    tables = ServiceTables(state["database_url"])
    await producer.start()
    try:
        async def send(*events: dict) -> None:
            for ev in events:
                await producer.send(topic, key=f"{TENANT}:{ev['customerid']}".encode(), value=json.dumps(ev).encode())
            await producer.flush()

        async with Progress(kafka, list(state["services"]), [TENANT], tables) as progress:
            await send(inbound("clock.tick", TENANT_CUSTOMERID, {"business_date": MONDAY.isoformat()}))
            await progress.wait_caught_up(MONDAY, timeout=60)
            await send(
                inbound("customer.upserted", "C-1", {"name": "Bianchi Arredi S.r.l.", "emails": ["ap@bianchi.example"],
                                                     "language": "it", "country": "IT"}),
                inbound("invoice.issued", "C-1", {
                    "invoice_id": "INV-1", "number": "2026/1", "issue_date": MONDAY.isoformat(),
                    "due_date": (MONDAY + dt.timedelta(days=8)).isoformat(), "currency": "EUR", "amount": "500.00"}))
            await progress.wait_caught_up(MONDAY, timeout=60)
            tuesday = MONDAY + dt.timedelta(days=1)  # 7 days before the due date: the courtesy e-mail
            await send(inbound("clock.tick", TENANT_CUSTOMERID, {"business_date": tuesday.isoformat()}))
            await progress.wait_caught_up(tuesday, timeout=60)
    finally:
        await producer.stop()
        tables.dispose()


def free_port_base(count: int = len(stack.SERVICES)) -> int:
    """A base port with base+1 … base+count free, so the stack's services run beside any other stack."""
    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        try:
            sockets = []
            for port in range(base + 1, base + count + 1):
                sockets.append(socket.socket())
                sockets[-1].bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no block of free ports found")


def _pid_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.broker
def test_stack_up_status_down(tmp_path):
    from softcollect_reminders.smtp_sink import read_sink

    home = tmp_path / "home"
    config = tmp_path / "config"
    (config / "tenants").mkdir(parents=True)
    (config / "tenants" / f"{TENANT}.yaml").write_text(TENANT_YAML)
    env = {**os.environ, "SOFTCOLLECT_HOME": str(home), "SOFTCOLLECT_CONFIG_DIR": str(config),
           "SOFTCOLLECT_STACK_WEB_PORT_BASE": str(free_port_base())}
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS"):  # the stack's own broker
        env.pop(key, None)
    port, smtp_port = free_port(), free_port()
    up = softcollect("stack", "up", "--kafka-port", str(port), "--smtp-port", str(smtp_port), env=env)
    state: dict = {}
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        state = json.loads((home / "stack.json").read_text())
        assert state["bootstrap_servers"] == f"127.0.0.1:{port}"
        assert set(state["services"]) >= {"ingest", "aging", "reminders"}
        for name, service in state["services"].items():
            with urllib.request.urlopen(service["url"] + "/ready", timeout=5) as resp:
                assert resp.status == 200, name
        sink = state["smtp_sink"]
        assert sink["port"] == smtp_port and sink["dir"] == str(home / "mail")
        assert stack.sink_ready(sink)
        status = softcollect("stack", "status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "ingest: ready" in status.stdout and "reminders: ready" in status.stdout
        assert f"mailsink: ready pid {sink['pid']} smtp://127.0.0.1:{smtp_port}" in status.stdout

        # reminders sends to the stack's sink: a courtesy e-mail decided on a tick lands in $SOFTCOLLECT_HOME/mail
        asyncio.run(courtesy_day(state))
        mails = read_sink(home / "mail")
        assert [(str(m["To"]), m["X-Softcollect-Step"], m["X-Softcollect-As-Of"]) for m in mails] == [
            ("ap@bianchi.example", "courtesy", "2026-03-03")]
        assert "crediti@stacktest.example" in str(mails[0]["From"])
        assert "2026/1" in mails[0].get_body(preferencelist=("plain",)).get_content()
        assert "1 e-mail(s)" in softcollect("stack", "status", env=env).stdout
    finally:
        down = softcollect("stack", "down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stack: mailsink stopped" in down.stdout
    assert not (home / "stack.json").exists()
    assert _pid_gone(state["smtp_sink"]["pid"]) and not _listening(smtp_port)
    assert all(_pid_gone(s["pid"]) for s in state["services"].values())
    assert softcollect("stack", "status", env=env).returncode == 3


def test_the_consumed_topics_mirror_the_services_specs():
    """Consumer lag (the demo's gate) is measured on what each service really subscribes to."""
    for entry in stack.SERVICES:
        if entry.name == "ingest" or not entry.exists():
            continue
        app = importlib.import_module(f"{entry.module}.app")
        assert stack._CONSUMES[entry.name] == app.CONSUMES, entry.name
