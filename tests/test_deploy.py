"""Deployment artefacts stay valid: the Compose file, and what it runs exists."""

import importlib.util
import json
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO.parent / "shared" / "schemas"


def test_compose_file_validates_against_the_compose_spec():
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    jsonschema.Draft7Validator(json.loads((SCHEMAS / "compose-spec.json").read_text())).validate(doc)


def test_every_compose_service_runs_a_module_that_exists():
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name, service in doc["services"].items():
        command = service.get("command")
        if command and command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(f"{command[2]}.__main__"), name


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / "README.md").read_text()
    assert "exec make test" in (REPO / ".ci" / "run").read_text()
