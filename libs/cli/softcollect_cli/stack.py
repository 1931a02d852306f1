"""The local stack: a real Kafka broker, a database and every service that exists, in the
background, with logs under ``.softcollect/`` and ``.softcollect/stack.json`` describing it.

With reminders comes a local SMTP sink (``softcollect_reminders.smtp_sink``, its own process,
port ``--smtp-port`` / ``SOFTCOLLECT_SMTP_PORT``, default 2525): reminders sends its e-mails
there, and each one is kept as a ``.eml`` file under ``$SOFTCOLLECT_HOME/mail``.

The services' web ports are 6061 (ingest), 6062 (aging), 6063 (reminders), …;
``SOFTCOLLECT_STACK_WEB_PORT_BASE`` moves them (base+1, base+2, …), e.g. for a second stack."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
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


DEFAULT_WEB_PORT_BASE = 6060


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    port: int

    @property
    def module(self) -> str:
        return f"softcollect_{self.name}"

    def web_port(self) -> int:
        """The port the stack runs the service's web server on: 6061… unless
        ``SOFTCOLLECT_STACK_WEB_PORT_BASE`` moves them all (base+1, base+2, …)."""
        base = os.environ.get("SOFTCOLLECT_STACK_WEB_PORT_BASE")
        return self.port if not base else int(base) + self.port - DEFAULT_WEB_PORT_BASE

    def exists(self) -> bool:
        """A service exists once its package has a runnable ``__main__``."""
        return importlib.util.find_spec(f"{self.module}.__main__") is not None


SERVICES = [ServiceEntry("ingest", 6061), ServiceEntry("aging", 6062), ServiceEntry("reminders", 6063),
            ServiceEntry("disputes", 6064), ServiceEntry("settlements", 6065)]

# What each service consumes (mirrors the services' specs), for progress and lag checks.
_CONSUMES: dict[str, list[Topic]] = {
    "aging": [Topic.invoices, Topic.payments, Topic.customers, Topic.clock, Topic.dispute_cases, Topic.settlements],
    "reminders": [Topic.receivables, Topic.invoices, Topic.customers, Topic.clock, Topic.positions,
                  Topic.dispute_cases, Topic.settlements],
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


def mail_dir() -> Path:
    """Where the stack's SMTP sink keeps the e-mails reminders sent."""
    return home() / "mail"


SINK_MODULE = "softcollect_reminders.smtp_sink"
DEFAULT_SMTP_PORT = 2525


def default_smtp_port() -> int:
    return int(os.environ.get("SOFTCOLLECT_SMTP_PORT") or DEFAULT_SMTP_PORT)


def _start_sink(directory: Path, port: int, log: Path, deadline_s: float = 30.0) -> subprocess.Popen:
    """The SMTP sink in the background; returns once it printed that it listens (or fails with its log)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    offset = log.stat().st_size if log.exists() else 0  # the log is appended to: read only this run's lines
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", SINK_MODULE, "--dir", str(directory), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with log.open("rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace")
        if "smtp sink: listening" in lines:
            return proc
        if proc.poll() is not None:
            tail = "\n".join(lines.splitlines()[-20:])
            raise SystemExit(f"smtp sink exited during start-up (port {port} taken? --smtp-port / "
                             f"SOFTCOLLECT_SMTP_PORT choose another); last log lines:\n{tail}")
        time.sleep(0.1)
    proc.terminate()
    proc.wait(10)
    raise SystemExit(f"smtp sink not listening after {deadline_s:.0f} s; see {log}")


def sink_ready(sink: dict) -> bool:
    """The sink's process is alive and it greets on its port as the softcollect sink does."""
    if not _alive(sink["pid"]):
        return False
    try:
        with socket.create_connection((sink["host"], sink["port"]), timeout=2) as conn:
            banner = conn.makefile("rb").readline()
            conn.sendall(b"QUIT\r\n")
    except OSError:
        return False
    return banner.startswith(b"220 ") and b"softcollect" in banner


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


def _processes(state: dict) -> dict[str, int]:
    """Every process of a stack state, by name: the services, then the SMTP sink."""
    procs = {name: s["pid"] for name, s in state.get("services", {}).items()}
    if "smtp_sink" in state:
        procs["mailsink"] = state["smtp_sink"]["pid"]
    return procs


def up(db: str = "sqlite", kafka_port: int = 9092, partitions: int = 6, smtp_port: int | None = None) -> dict:
    h = home()
    (h / "logs").mkdir(parents=True, exist_ok=True)
    if state_file().exists():
        current = json.loads(state_file().read_text())
        if any(_alive(pid) for pid in _processes(current).values()):
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
    service_env: dict[str, dict[str, str]] = {}
    if any(s.name == "reminders" for s in services):
        # Reminders sends to the stack's own SMTP sink, started first (its own process, like the services).
        sink_port = default_smtp_port() if smtp_port is None else smtp_port
        log = h / "logs" / "mailsink.log"
        sink = _start_sink(mail_dir(), sink_port, log)
        state["smtp_sink"] = {"pid": sink.pid, "host": "127.0.0.1", "port": sink_port,
                              "url": f"smtp://127.0.0.1:{sink_port}",
                              "dir": str(mail_dir()), "log": str(log)}
        state_file().write_text(json.dumps(state, indent=2))  # so `stack down` finds it should a service fail
        print(f"stack: mailsink listening on smtp://127.0.0.1:{sink_port}, mail in {mail_dir()}")
        service_env["reminders"] = {
            "SOFTCOLLECT_SMTP_HOST": "127.0.0.1", "SOFTCOLLECT_SMTP_PORT": str(sink_port),
            "SOFTCOLLECT_SMTP_SECURITY": "none",
            "SOFTCOLLECT_MAIL_POLL_SECONDS": os.environ.get("SOFTCOLLECT_MAIL_POLL_SECONDS", "0.2")}
    procs: dict[str, subprocess.Popen] = {}
    for svc in services:
        log = h / "logs" / f"{svc.name}.log"
        port = svc.web_port()
        svc_env = {**env, **service_env.get(svc.name, {}), "SOFTCOLLECT_WEB_PORT": str(port)}
        if svc.name in service_env:  # no credentials or TLS meant for another SMTP server
            for key in ("SOFTCOLLECT_SMTP_USERNAME", "SOFTCOLLECT_SMTP_PASSWORD", "SOFTCOLLECT_SMTP_CA_FILE"):
                svc_env.pop(key, None)
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", svc.module], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=svc_env, start_new_session=True, cwd=REPO)
        procs[svc.name] = proc
        state["services"][svc.name] = {"pid": proc.pid, "port": port, "url": f"http://127.0.0.1:{port}",
                                       "log": str(log)}
    state_file().write_text(json.dumps(state, indent=2))
    for name, s in state["services"].items():
        _wait_ready(s["url"], procs[name], Path(s["log"]))
        print(f"stack: {name} ready on {s['url']}")
    mail = f", mail in {mail_dir()}" if "smtp_sink" in state else ""
    print(f"stack: up — Kafka {bootstrap}, database {database_url.split('@')[-1]}, "
          f"{len(services)} service(s){mail}; state in {state_file()}")
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _stop(name: str, pid: int) -> None:
    """SIGTERM to the process group the stack started (each process leads its own), SIGKILL after 20 s."""
    try:
        if _alive(pid):
            os.killpg(pid, signal.SIGTERM)
            end = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < end:
                time.sleep(0.2)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # gone in between
        pass
    print(f"stack: {name} stopped")


def down() -> None:
    h = home()
    state: dict = {}
    if state_file().exists():
        state = json.loads(state_file().read_text())
        for name, pid in _processes(state).items():  # the services first: reminders may still be sending
            _stop(name, pid)
        state_file().unlink()
    _script("kafka/kafka.sh", "stop", env={"KAFKA_HOME": str(h / "kafka")})
    if state.get("db") == "postgres":
        _script("postgres/postgres.sh", "stop", env={"PG_HOME": str(h / "postgres")})


def reset() -> None:
    """Stop the stack and delete its broker data, service databases and stored e-mails (not its jars or logs)."""
    import shutil

    down()
    h = home()
    for part in ("kafka", "data", "mail"):
        shutil.rmtree(h / part, ignore_errors=True)
    print(f"stack: reset (removed {h / 'kafka'}, {h / 'data'} and {h / 'mail'})")


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
    if sink := state.get("smtp_sink"):
        ready = sink_ready(sink)
        stored = len(list(Path(sink["dir"]).glob("*.eml"))) if Path(sink["dir"]).is_dir() else 0
        print(f"mailsink: {'ready' if ready else 'NOT READY'} pid {sink['pid']} {sink['url']}, "
              f"{stored} e-mail(s) in {sink['dir']}")
        rc = rc or (0 if ready else 1)
    return rc
