from datetime import date, timedelta
from decimal import Decimal

import pytest

from softcollect_events import Phase
from softcollect_reminders.domain import (
    DEFAULT_POLICY,
    Debtor,
    Delivery,
    Hold,
    next_business_day,
    policy_for,
    task_priority,
)

from .helpers import DUE, always, day, debtor, history, item, of, reasons, run, weekdays

WRITTEN = {"courtesy", "due_today", "first_reminder", "second_reminder", "final_notice"}


# --- each step on its day -------------------------------------------------


@pytest.mark.parametrize("step", DEFAULT_POLICY.steps, ids=lambda s: s.name)
def test_each_step_on_its_day(step):
    d = debtor(item())
    history(d, "INV-1", step.day)
    out = run(d, day(step.day))
    assert not of(out, "reminder.suppressed")
    if step.name in WRITTEN:
        [sent] = out
        assert sent.type == "reminder.sent"
        assert sent.data["step"] == step.name and sent.data["invoice_ids"] == ["INV-1"]
        assert sent.data["amount_due"] == "1000.00" and sent.data["channel"] == "email"
        assert sent.data["language"] == "en"
        assert sent.data["message_id"] == f"<{sent.data['reminder_id']}@softcollect>"
        assert d.last_written_contact == day(step.day)
    elif step.name == "statement":
        [sent] = out
        assert sent.type == "statement.sent" and sent.data["open_amount"] == "1000.00"
    elif step.action == "call_task":
        [task] = out
        assert task.type == "task.created" and task.data["kind"] == "phone_call"
        assert task.data["step"] == step.name and task.data["amount"] == "1000.00"
    elif step.name == "delivery_check":
        [req] = out
        assert req.type == "invoice.resubmission_requested" and req.data["invoice_id"] == "INV-1"
    else:
        assert out == []
    assert step.name in d.steps_done["INV-1"]
    assert run(d, day(step.day)) == [], "a step happens once per item"


def test_day_before_a_step_nothing():
    d = debtor(item())
    history(d, "INV-1", 3)
    assert run(d, day(2)) == []


def test_daily_ticks_walk_every_step_once():
    d = debtor(item())
    d.deliveries["INV-1"] = Delivery("delivered")
    steps = []
    for n in range(-20, 40):
        for o in run(d, day(n)):
            assert o.type != "reminder.suppressed"
            steps.append(o.data.get("step", "statement"))
    assert steps == ["courtesy", "due_today", "first_reminder", "first_call", "statement",
                     "second_reminder", "second_call", "final_notice"]
    assert d.steps_done["INV-1"][-1] == "handover"


def test_second_call_has_higher_priority_than_first():
    d = debtor(item())
    history(d, "INV-1", 10)
    [first] = run(d, day(10))
    history(d, "INV-1", 20)
    [second] = run(d, day(20))
    assert second.data["priority"] > first.data["priority"]


def test_priority_formula():
    assert task_priority(10, Decimal("1000"), 10, 0) == 10 + 5 + 10
    assert task_priority(20, Decimal("100000"), 90, 100) == 100
    assert task_priority(0, Decimal("0"), -5, 0) == 0
    assert task_priority(0, Decimal("399.99"), 3, 50) == 1 + 3 + 15


# --- consolidation and superseding -----------------------------------------


def test_two_items_same_day_one_message_at_highest_step():
    a = item("INV-A", "300.00", due=day(-3))  # reaches first_reminder on day(0)
    b = item("INV-B", "200.00", due=day(-15))  # reaches second_reminder on day(0)
    d = debtor(a, b)
    history(d, "INV-A", 3)
    history(d, "INV-B", 15)
    out = run(d, day(0))
    [sent] = out
    assert sent.data["step"] == "second_reminder"
    assert sent.data["invoice_ids"] == ["INV-B", "INV-A"]  # oldest first
    assert sent.data["amount_due"] == "500.00"
    assert "first_reminder" in d.steps_done["INV-A"] and "second_reminder" in d.steps_done["INV-B"]


def test_message_lists_other_open_overdue_items_but_not_future_ones():
    a = item("INV-A", "300.00")
    old = item("INV-OLD", "50.00", due=day(-5))
    future = item("INV-F", "70.00", due=day(30))
    d = debtor(a, old, future)
    history(d, "INV-A", 0)
    history(d, "INV-OLD", 99)
    history(d, "INV-F", -99)
    [sent] = run(d, day(0))
    assert sent.data["invoice_ids"] == ["INV-OLD", "INV-A"] and sent.data["amount_due"] == "350.00"


def test_skipped_days_supersede_lower_steps():
    d = debtor(item())
    history(d, "INV-1", 0)  # last tick was before day 0
    out = run(d, day(12))
    assert reasons(out) == {"due_today": "superseded", "first_reminder": "superseded", "first_call": "superseded"}
    [sent] = of(out, "statement.sent")
    assert len(of(out, "reminder.sent")) == 0
    assert set(d.steps_done["INV-1"]) >= {"due_today", "first_reminder", "first_call", "statement"}


def test_item_first_seen_late_starts_at_its_step():
    d = debtor(item(due=day(-4)))
    out = run(d, day(0))
    assert reasons(out) == {"delivery_check": "superseded", "courtesy": "superseded", "due_today": "superseded"}
    assert of(out, "reminder.sent")[0].data["step"] == "first_reminder"


# --- nothing for settled, terminal, handed over -----------------------------


@pytest.mark.parametrize("phase", [Phase.settled, Phase.cancelled, Phase.written_off, Phase.handed_over])
def test_terminal_and_handed_over_items_nothing(phase):
    d = debtor(item(phase=phase))
    assert run(d, day(3)) == []


def test_payment_leaves_nothing():
    d = debtor(item(amount="0"))
    assert run(d, day(3)) == []


# --- suppression reasons --------------------------------------------------


def test_dispute_on_one_of_two_invoices_only_the_other_listed():
    d = debtor(item("INV-A", "300.00"), item("INV-B", "200.00", disputed_amount=Decimal("200.00")))
    history(d, "INV-A", 3)
    history(d, "INV-B", 3)
    out = run(d, day(3))
    assert reasons(out) == {"first_reminder": "disputed"}
    assert of(out, "reminder.suppressed")[0].data["invoice_ids"] == ["INV-B"]
    [sent] = of(out, "reminder.sent")
    assert sent.data["invoice_ids"] == ["INV-A"] and sent.data["amount_due"] == "300.00"


def test_partial_dispute_reminds_undisputed_part():
    d = debtor(item(amount="1000.00", disputed_amount=Decimal("250.00")))
    history(d, "INV-1", 3)
    [sent] = run(d, day(3))
    assert sent.data["amount_due"] == "750.00"


def test_promise_pending_until_promised_date_plus_grace():
    d = debtor(item())
    d.promises["INV-1"] = day(1)
    history(d, "INV-1", 3)
    assert reasons(run(d, day(3))) == {"first_reminder": "promise_pending"}
    history(d, "INV-1", 10)
    assert of(run(d, day(10)), "task.created")  # promise (day 1 + 2) is over


def test_plan_active():
    d = debtor(item())
    d.arrangements["PLAN-1"] = ["INV-1"]
    history(d, "INV-1", 3)
    assert reasons(run(d, day(3))) == {"first_reminder": "plan_active"}


def test_customer_hold_and_item_hold_until():
    d = debtor(item("INV-A"), item("INV-B"))
    d.holds["H1"] = Hold("H1", "INV-A", until=day(3))
    history(d, "INV-A", 3)
    history(d, "INV-B", 3)
    out = run(d, day(3))
    assert reasons(out) == {"first_reminder": "on_hold"}
    assert of(out, "reminder.sent")[0].data["invoice_ids"] == ["INV-B"]
    d.holds["H2"] = Hold("H2")
    history(d, "INV-A", 10)
    history(d, "INV-B", 10)
    assert reasons(run(d, day(10))) == {"first_call": "on_hold"}


def test_hold_expired_no_longer_suppresses():
    d = debtor(item())
    d.holds["H1"] = Hold("H1", None, until=day(2))
    history(d, "INV-1", 3)
    assert of(run(d, day(3)), "reminder.sent")


def test_delivery_check_when_delivered_does_nothing():
    d = debtor(item())
    d.deliveries["INV-1"] = Delivery("delivered")
    assert run(d, day(-15)) == []


def test_delivery_failed_resubmitted_recently_is_unconfirmed():
    d = debtor(item())
    d.deliveries["INV-1"] = Delivery("failed")
    [req] = run(d, day(-15))
    assert req.data["reason"] == "delivery failed"
    assert d.deliveries["INV-1"].last_resubmission == day(-15)
    d.deliveries["INV-1"].last_resubmission = day(-10)
    assert reasons(run(d, day(-7))) == {"courtesy": "delivery_unconfirmed"}
    d.deliveries["INV-1"].last_resubmission = day(-5)
    assert of(run(d, day(0)), "reminder.sent")


def test_below_minimum():
    d = debtor(item(amount="4.99"))
    history(d, "INV-1", 3)
    assert reasons(run(d, day(3))) == {"first_reminder": "below_minimum"}
    assert "first_reminder" in d.steps_done["INV-1"]


def test_unapplied_cash_covering_creates_reconcile_task():
    d = debtor(item(amount="300.00"))
    d.unapplied["EUR"] = Decimal("300.00")
    history(d, "INV-1", 3)
    out = run(d, day(3))
    assert reasons(out) == {"first_reminder": "unapplied_cash"}
    [task] = of(out, "task.created")
    assert task.data["kind"] == "reconcile_payment" and task.data["amount"] == "300.00"
    assert not of(out, "reminder.sent")


def test_partial_unapplied_cash_and_credits_net_the_amount_due():
    d = debtor(item(amount="300.00"))
    d.unapplied["EUR"] = Decimal("100.00")
    d.credits["EUR"] = Decimal("50.00")
    d.unapplied["USD"] = Decimal("1000.00")  # other currencies never count
    history(d, "INV-1", 3)
    [sent] = run(d, day(3))
    assert sent.data["amount_due"] == "150.00"


def test_frequency_cap_defers_until_and_does_not_repeat():
    d = debtor(item())
    d.last_written_contact = day(2)
    history(d, "INV-1", 3)
    out = run(d, day(3))
    [sup] = out
    assert sup.data["reason"] == "frequency_cap" and sup.data["until"] == day(5).isoformat()
    assert run(d, day(4)) == []  # same deferral is not repeated
    [sent] = run(d, day(5))
    assert sent.data["step"] == "first_reminder"


def test_frequency_cap_does_not_stop_calls():
    d = debtor(item())
    d.last_written_contact = day(9)
    history(d, "INV-1", 10)
    [task] = run(d, day(10))
    assert task.data["kind"] == "phone_call"


def test_weekend_deferred_to_monday():
    saturday = date(2024, 6, 15)
    d = debtor(item(due=saturday - timedelta(days=3)))
    history(d, "INV-1", 3)
    [sup] = run(d, saturday, business=weekdays)
    assert sup.data == {"step": "first_reminder", "invoice_ids": ["INV-1"], "reason": "non_business_day",
                        "until": "2024-06-17"}
    assert run(d, saturday + timedelta(days=1), business=weekdays) == []
    [sent] = run(d, date(2024, 6, 17), business=weekdays)
    assert sent.data["step"] == "first_reminder"


def test_public_holiday_deferral_uses_the_calendar():
    holiday = date(2024, 8, 15)  # Ferragosto, a Thursday

    def italy(d: date) -> bool:
        return d.weekday() < 5 and d != holiday

    assert next_business_day(holiday, italy) == date(2024, 8, 16)
    assert next_business_day(date(2024, 8, 14), italy) == date(2024, 8, 16)


def test_no_contact_creates_verify_contact_task():
    d = debtor(item(), email=False)
    history(d, "INV-1", 3)
    out = run(d, day(3))
    assert reasons(out) == {"first_reminder": "no_contact"}
    [task] = of(out, "task.created")
    assert task.data["kind"] == "verify_contact"
    assert not of(out, "reminder.sent")


def test_key_account_day_0_sent_then_account_manager_review():
    policy = policy_for(None, "key_account")
    d = debtor(item(), segment="key_account", account_manager="am-bianchi")
    history(d, "INV-1", 0)
    assert of(run(d, day(0), policy), "reminder.sent")
    out = run(d, day(3), policy)
    assert reasons(out) == {"first_reminder": "key_account_approval"}
    [task] = of(out, "task.created")
    assert task.data["kind"] == "account_manager_review" and task.data["step"] == "first_reminder"
    assert task.data["assignee"] == "am-bianchi"
    assert of(run(d, day(10), policy), "task.created")[0].data["kind"] == "phone_call"  # calls still go


def test_multi_currency_one_message_two_events():
    d = debtor(item("INV-E", "100.00"), item("INV-U", "200.00", currency="USD"))
    history(d, "INV-E", 3)
    history(d, "INV-U", 3)
    out = run(d, day(3))
    assert [o.data["currency"] for o in out] == ["EUR", "USD"]
    assert len({o.data["message_id"] for o in out}) == 1
    assert len({o.data["reminder_id"] for o in out}) == 2


def test_outcomes_are_deterministic():
    def make() -> Debtor:
        d = debtor(item("INV-A"), item("INV-B", due=day(-20)))
        history(d, "INV-A", 0)
        return d

    assert run(make(), day(3)) == run(make(), day(3))


def test_round_trip():
    d = debtor(item(installment=2, disputed_amount=Decimal("1.50")), segment="key_account", country="IT")
    d.credits["EUR"] = Decimal("5.00")
    d.unapplied["EUR"] = Decimal("7.00")
    d.holds["H"] = Hold("H", "INV-1", day(4))
    d.promises["INV-1"] = day(2)
    d.arrangements["P"] = ["INV-1"]
    d.deliveries["INV-1"] = Delivery("failed", day(-15))
    run(d, DUE, business=weekdays)
    d.last_written_contact = day(-1)
    assert Debtor.from_dict(d.to_dict()) == d
    assert DUE.weekday() == 2 and always(DUE)
