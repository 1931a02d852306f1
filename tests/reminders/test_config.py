"""The reminders service refuses to start on a tenant's bad policy or hostile template, naming
the file and the key; a valid tenant's segments get their own policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from softcollect_reminders.app import build
from softcollect_reminders.config import ReminderSettings, Tenants
from softcollect_reminders.domain import PolicyError
from softcollect_reminders.render import TemplateError


def settings(tmp_path, yaml: str) -> ReminderSettings:
    (tmp_path / "tenants").mkdir(exist_ok=True)
    (tmp_path / "tenants" / "acme.yaml").write_text(yaml)
    return ReminderSettings(config_dir=tmp_path)


def test_a_bad_step_is_named_with_its_file_and_key(tmp_path):
    s = settings(tmp_path, "name: Acme\nreminders:\n  steps:\n    - {name: first, day: soon, action: email}\n")
    with pytest.raises(PolicyError) as err:
        Tenants(s)
    assert "tenants/acme.yaml: reminders.steps[0].day" in str(err.value)


def test_an_unknown_segment_key_is_named(tmp_path):
    s = settings(tmp_path, "name: Acme\nreminders:\n  segments:\n    key_account: {frequency_cap: 2}\n")
    with pytest.raises(PolicyError) as err:
        Tenants(s)
    assert "reminders.segments.key_account.frequency_cap" in str(err.value)


def test_policies_per_segment_and_transport_keys_apart(tmp_path):
    s = settings(tmp_path, "name: Acme\nreminders:\n  sender: 'Acme <credit@acme.example>'\n"
                           "  minimum_amount: '20.00'\n  segments:\n    public_administration:\n"
                           "      minimum_amount: '50.00'\n")
    tenants = Tenants(s)
    assert tenants.policy("acme", None).minimum_amount == Decimal("20.00")
    assert tenants.policy("acme", "public_administration").minimum_amount == Decimal("50.00")
    assert tenants.policy("acme", "key_account").approval_after_day == 0
    assert tenants.config("acme").reminders.sender == "Acme <credit@acme.example>"
    assert tenants.policy("nobody", None).minimum_amount == Decimal("5.00")  # no file: DOMAIN.md defaults


def test_a_hostile_tenant_template_stops_the_start(tmp_path):
    s = settings(tmp_path, "name: Acme\n")
    (tmp_path / "templates" / "acme" / "en").mkdir(parents=True)
    (tmp_path / "templates" / "acme" / "en" / "courtesy.j2").write_text(
        "{% block subject %}Hi{% endblock %}{% block text %}{{ ''.__class__.__mro__ }}{% endblock %}")
    with pytest.raises(TemplateError) as err:
        build(s)
    assert "acme" in str(err.value) and "courtesy.j2" in str(err.value)


def test_softcollect_tenants_names_a_bad_reminders_key(tmp_path, capsys):
    from softcollect_cli.main import main

    settings(tmp_path, "name: Acme\nreminders:\n  steps:\n    - {name: first, day: soon, action: email}\n")
    assert main(["tenants", "--config-dir", str(tmp_path)]) == 1
    assert "tenants/acme.yaml: reminders.steps[0].day" in capsys.readouterr().err
