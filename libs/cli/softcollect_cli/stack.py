"""The local stack: a real Kafka broker, a database and every service that exists, in the
background, with logs under ``.softcollect/`` and ``.softcollect/stack.json`` describing it."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from softcollect_events import Topic, all_topics, topic_name
from softcollect_runtime.kafka import ensure_topics
from softcollect_runtime.settings import KafkaSettings
from softcollect_runtime.tenants import load_tenants

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    port: int

    @property
    def module(self) -> str:
        return f"softcollect_{self.name}"

    def exists(self) -> bool:
        """A service exists once its package has a runnable ``__main__``."""
        return importlib.util.find_spec(f"{self.module}.__main__") is not None


SERVICES = [ServiceEntry("ingest", 6061), ServiceEntry("aging", 6062), ServiceEntry("reminders", 6063),
            ServiceEntry("disputes", 6064), ServiceEntry("settlements", 6065)]

# What each service consumes (mirrors the services' specs), for progress and lag checks.
_CONSUMES: dict[str, list[Topic]] = {
    "aging": [Topic.invoices, Topic.payments, Topic.customers, Topic.clock, Topic.dispute_cases, Topic.settlements],
    "reminders": [Topic.receivables, Topic.invoices, Topic.customers, Topic.activities, Topic.clock,
                  Topic.positions, Topic.dispute_cases, Topic.settlements],
    "disputes": [Topic.disputes, Topic.activities, Topic.receivables, Topic.clock],
    "settlements": [Topic.activities, Topic.receivables, Topic.payments, Topic.clock],
}


def consumed_topics(service: str, prefix: str, tenants: list[str]) -> list[str]:
    if service == "ingest":
        return [topic_name(Topic.inbound, prefix, tenantid=t) for t in tenants]
    return [topic_name(t, prefix) for t in _CONSUMES.get(service, [])]


def home() -> Path:
    return Path(os.environ.get("SOFTCOLLECT_HOME", REPO / ".softcollect"))


def state_file() -> Path:
    return home() / "stack.json"


def _script(*args: str, env: dict | None = None) -> None:
    subprocess.run([str(REPO / "deploy" / args[0]), *args[1:]], check=True, env={**os.environ, **(env or {})})


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, deadline_s: float = 90.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-30:]
            raise SystemExit(f"service at {url} exited during start-up; last log lines:\n" + "\n".join(tail))
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                pid = json.loads(resp.read()).get("pid")
            if pid != proc.pid:  # another process holds the port
                raise SystemExit(f"port of {url} is held by another process (pid {pid}); stop it first")
            with urllib.request.urlopen(url + "/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"service at {url} not ready after {deadline_s:.0f} s; see {log}")


def up(db: str = "sqlite", kafka_port: int = 9092, partitions: int = 6) -> dict:
    h = home()
    (h / "logs").mkdir(parents=True, exist_ok=True)
    if state_file().exists():
        current = json.loads(state_file().read_text())
        if any(_alive(s["pid"]) for s in current.get("services", {}).values()):
            print("stack: already up (softcollect stack down first to restart)")
            return current
    bootstrap = f"127.0.0.1:{kafka_port}"
    _script("kafka/kafka.sh", "start", env={"KAFKA_PORT": str(kafka_port), "KAFKA_HOME": str(h / "kafka")})
    if db == "postgres":
        _script("postgres/postgres.sh", "start", env={"PG_HOME": str(h / "postgres")})
        database_url = "postgresql+asyncpg://softcollect@127.0.0.1:55432/softcollect"
    else:
        database_url = f"sqlite+aiosqlite:///{h / 'data'}/{{service}}.db"
    config_dir = Path(os.environ.get("SOFTCOLLECT_CONFIG_DIR", REPO / "config"))
    tenants = load_tenants(config_dir)
    services = [s for s in SERVICES if s.exists()]
    topics = all_topics("softcollect.", [s.name for s in SERVICES])
    topics += [topic_name("inbound", "softcollect.", tenantid=t) for t in tenants]
    asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), topics, partitions))
    env = {**os.environ, "SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
           "SOFTCOLLECT_DATABASE_URL": database_url, "SOFTCOLLECT_CONFIG_DIR": str(config_dir),
           "SOFTCOLLECT_DATA_DIR": str(h / "data"), "SOFTCOLLECT_PARTITIONS": str(partitions),
           # a local stack favours quick hand-offs over fewer offset commits
           "SOFTCOLLECT_COMMIT_INTERVAL_SECONDS": os.environ.get("SOFTCOLLECT_COMMIT_INTERVAL_SECONDS", "0.2")}
    state = {"bootstrap_servers": bootstrap, "db": db, "database_url": database_url, "config_dir": str(config_dir),
             "tenants": sorted(tenants), "services": {}}
    procs: dict[str, subprocess.Popen] = {}
    for svc in services:
        log = h / "logs" / f"{svc.name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", svc.module], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env={**env, "SOFTCOLLECT_WEB_PORT": str(svc.port)},
                                    start_new_session=True, cwd=REPO)
        procs[svc.name] = proc
        state["services"][svc.name] = {"pid": proc.pid, "port": svc.port, "url": f"http://127.0.0.1:{svc.port}",
                                       "log": str(log)}
    state_file().write_text(json.dumps(state, indent=2))
    for name, s in state["services"].items():
        _wait_ready(s["url"], procs[name], Path(s["log"]))
        print(f"stack: {name} ready on {s['url']}")
    print(f"stack: up — Kafka {bootstrap}, database {database_url.split('@')[-1]}, "
          f"{len(services)} service(s); state in {state_file()}")
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def down() -> None:
    h = home()
    state: dict = {}
    if state_file().exists():
        state = json.loads(state_file().read_text())
        for name, s in state.get("services", {}).items():
            pid = s["pid"]
            if _alive(pid):
                os.killpg(pid, signal.SIGTERM)
                end = time.monotonic() + 20
                while _alive(pid) and time.monotonic() < end:
                    time.sleep(0.2)
                if _alive(pid):
                    os.killpg(pid, signal.SIGKILL)
            print(f"stack: {name} stopped")
        state_file().unlink()
    _script("kafka/kafka.sh", "stop", env={"KAFKA_HOME": str(h / "kafka")})
    if state.get("db") == "postgres":
        _script("postgres/postgres.sh", "stop", env={"PG_HOME": str(h / "postgres")})


def reset() -> None:
    """Stop the stack and delete its broker data and service databases (not its jars or logs)."""
    import shutil

    down()
    h = home()
    for part in ("kafka", "data"):
        shutil.rmtree(h / part, ignore_errors=True)
    print(f"stack: reset (removed {h / 'kafka'} and {h / 'data'})")


def status() -> int:
    if not state_file().exists():
        print("stack: down")
        return 3
    state = json.loads(state_file().read_text())
    print(f"kafka: {state['bootstrap_servers']}")
    rc = 0
    for name, s in state["services"].items():
        try:
            with urllib.request.urlopen(s["url"] + "/ready", timeout=2) as resp:
                ready = resp.status == 200
        except OSError:
            ready = False
        print(f"{name}: {'ready' if ready else 'NOT READY'} pid {s['pid']} {s['url']}")
        rc = rc or (0 if ready else 1)
    return rc
