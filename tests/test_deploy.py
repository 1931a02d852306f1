"""Deployment artefacts stay valid: the Compose file, and what it runs exists."""

import importlib.util
import json
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO.parent / "shared" / "schemas"


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_file_validates_against_the_compose_spec():
    jsonschema.Draft7Validator(json.loads((SCHEMAS / "compose-spec.json").read_text())).validate(compose())


def test_every_compose_service_runs_a_module_that_exists():
    for name, service in compose()["services"].items():
        command = service.get("command")
        if command and command[:2] == ["python", "-m"]:
            spec = importlib.util.find_spec(command[2])
            assert spec, name
            if spec.submodule_search_locations is not None:  # a package runs its __main__
                assert importlib.util.find_spec(f"{command[2]}.__main__"), name


def test_reminders_sends_to_the_compose_smtp_sink():
    services = compose()["services"]
    reminders, sink = services["reminders"], services["mailsink"]
    assert reminders["command"] == ["python", "-m", "softcollect_reminders"]
    assert reminders["image"] == services["ingest"]["image"] == sink["image"]
    env = reminders["environment"]
    # the shared service settings still apply (YAML merge of the common environment)
    assert env["SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS"] == services["aging"]["environment"][
        "SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS"]
    assert env["SOFTCOLLECT_DATABASE_URL"] == services["aging"]["environment"]["SOFTCOLLECT_DATABASE_URL"]
    assert set(reminders["depends_on"]) == {"kafka", "postgres", "mailsink"}

    command = sink["command"]
    assert command[:3] == ["python", "-m", "softcollect_reminders.smtp_sink"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options["--host"] == "0.0.0.0"
    assert env["SOFTCOLLECT_SMTP_HOST"] == "mailsink"
    assert env["SOFTCOLLECT_SMTP_PORT"] == options["--port"] == "2525"
    assert env["SOFTCOLLECT_SMTP_SECURITY"] == "none"
    # the stored mail outlives the container
    volume, _, path = next(v for v in sink["volumes"] if v.endswith(":" + options["--dir"])).partition(":")
    assert path == "/data/mail" and volume in compose()["volumes"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / "README.md").read_text()
    assert "exec make test" in (REPO / ".ci" / "run").read_text()
