from decimal import Decimal

import pytest

from softcollect_events import KNOWN_STEPS
from softcollect_reminders.domain import DEFAULT_POLICY, PolicyError, policy_for
from softcollect_runtime.tenants import ReminderPolicy


def test_default_policy_is_domain_section_3():
    assert [(s.name, s.day) for s in DEFAULT_POLICY.steps] == [
        ("delivery_check", -15), ("courtesy", -7), ("due_today", 0), ("first_reminder", 3), ("first_call", 10),
        ("statement", 11), ("second_reminder", 15), ("second_call", 20), ("final_notice", 25), ("handover", 31),
    ]
    assert tuple(s.name for s in DEFAULT_POLICY.steps) == KNOWN_STEPS
    assert DEFAULT_POLICY.minimum_amount == Decimal("5.00")
    assert (DEFAULT_POLICY.frequency_cap_days, DEFAULT_POLICY.promise_grace_days,
            DEFAULT_POLICY.resubmission_quiet_days) == (3, 2, 5)
    assert DEFAULT_POLICY.approval_after_day is None


def test_key_account_segment_needs_approval_after_day_0():
    assert policy_for(None, "key_account").approval_after_day == 0
    assert policy_for(None, "standard").approval_after_day is None


def test_tenant_then_segment_overrides():
    overrides = {
        "minimum_amount": "10.00",
        "segments": {
            "public_administration": {
                "frequency_cap_days": 7,
                "steps": [{"name": "due_today", "day": 0, "action": "email"},
                          {"name": "first_call", "day": 30, "action": "call_task", "priority": 50}],
            },
            "key_account": {"approval_after_day": None},
        },
    }
    pa = policy_for(overrides, "public_administration")
    assert pa.minimum_amount == Decimal("10.00") and pa.frequency_cap_days == 7
    assert [s.name for s in pa.steps] == ["due_today", "first_call"] and pa.steps[1].priority == 50
    assert policy_for(overrides, "key_account").approval_after_day is None
    assert policy_for(overrides, None).steps == DEFAULT_POLICY.steps


def test_accepts_the_runtime_reminder_policy():
    assert policy_for(ReminderPolicy(minimum_amount=Decimal("20")), None).minimum_amount == Decimal("20")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"segments": {"key_account": {"steps": [
            {"name": "a", "day": 1, "action": "email"}, {"name": "b", "day": 2, "action": "email"},
            {"name": "c", "day": "soon", "action": "email"}]}}},
         "reminders.segments.key_account.steps[2].day: "),
        ({"minimum_amount": "-1"}, "reminders.minimum_amount: "),
        ({"frequency_cap": 3}, "reminders.frequency_cap: Extra inputs"),
        ({"steps": [{"name": "x", "day": 1, "action": "fax"}]}, "reminders.steps[0].action: "),
        ({"steps": [{"name": "x", "day": 1, "action": "email"}, {"name": "x", "day": 2, "action": "email"}]},
         "reminders.steps: Value error, duplicate step names: x"),
        ({"steps": [{"name": "x", "day": 5, "action": "email"}, {"name": "y", "day": 2, "action": "email"}]},
         "reminders.steps: Value error, steps must be listed in order of day"),
    ],
)
def test_errors_name_the_bad_key(overrides, message):
    with pytest.raises(PolicyError) as err:
        policy_for(overrides, "key_account")
    assert any(e.startswith(message) for e in err.value.errors), err.value.errors
