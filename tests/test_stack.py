"""`softcollect stack up/status/down` on this machine: a real broker from the Maven jars and every
service that exists, described in stack.json, stopped again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from tests.support import REPO, free_port

pytestmark = pytest.mark.broker


def softcollect(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "softcollect_cli.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_stack_up_status_down(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "SOFTCOLLECT_HOME": str(home)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # the stack's own broker, not the suite's
    port = free_port()
    up = softcollect("stack", "up", "--kafka-port", str(port), env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        state = json.loads((home / "stack.json").read_text())
        assert state["bootstrap_servers"] == f"127.0.0.1:{port}"
        assert set(state["services"]) >= {"ingest", "aging"}
        for name, service in state["services"].items():
            with urllib.request.urlopen(service["url"] + "/ready", timeout=5) as resp:
                assert resp.status == 200, name
        status = softcollect("stack", "status", env=env)
        assert status.returncode == 0 and "ingest: ready" in status.stdout
    finally:
        down = softcollect("stack", "down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (home / "stack.json").exists()
    assert softcollect("stack", "status", env=env).returncode == 3
