from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softcollect_reminders.domain import policy_for

from .helpers import DUE, debtor, item, run, weekdays

ITEM = st.tuples(
    st.integers(-30, 40),  # due date offset from DUE
    st.sampled_from(["0", "3.00", "250.00", "1200.00"]),  # open amount (0: paid)
    st.sampled_from(["none", "partial", "full"]),  # dispute
)
CHANGE = st.sampled_from(["nothing", "pay", "dispute", "promise", "unapplied", "email_lost"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(ITEM, min_size=1, max_size=3),
    gaps=st.lists(st.integers(1, 6), min_size=1, max_size=25),
    changes=st.lists(st.tuples(st.integers(0, 2), CHANGE), max_size=25),
    business=st.booleans(),
    segment=st.sampled_from([None, "key_account"]),
)
def test_at_most_one_message_a_day_and_never_for_disputed_or_settled(items, gaps, changes, business, segment):
    policy = policy_for(None, segment)
    built = []
    for n, (offset, amount, dispute) in enumerate(items):
        open_amount = Decimal(amount)
        disputed = {"none": Decimal(0), "partial": open_amount / 2, "full": open_amount}[dispute]
        built.append(item(f"INV-{n}", amount, due=DUE + timedelta(days=offset), disputed_amount=disputed))
    d = debtor(*built, segment=segment)
    today = DUE - timedelta(days=40)
    seen_messages: set[tuple] = set()
    for n, gap in enumerate(gaps):
        today += timedelta(days=gap)
        if n < len(changes):
            which, change = changes[n]
            target = built[which % len(built)]
            if change == "pay":
                target.open_amount = Decimal(0)
            elif change == "dispute":
                target.disputed_amount = target.open_amount
            elif change == "promise":
                d.promises[target.invoice_id] = today + timedelta(days=3)
            elif change == "unapplied":
                d.unapplied["EUR"] = Decimal("100.00")
            elif change == "email_lost":
                d.contact.has_email = False
        out = run(d, today, policy, weekdays if business else (lambda _: True))

        messages = [o for o in out if o.type in ("reminder.sent", "statement.sent")]
        assert len({o.data["message_id"] for o in messages}) <= 1
        assert not ({o.data["message_id"] for o in messages} & {m for m, _ in seen_messages})
        seen_messages |= {(o.data["message_id"], today) for o in messages}
        unremindable = {i.invoice_id for i in built if i.undisputed <= 0}
        for o in messages:
            assert not set(o.data["invoice_ids"]) & unremindable
            assert Decimal(o.data.get("amount_due", o.data.get("open_amount"))) >= policy.minimum_amount
        if messages:
            assert d.contact.has_email
            assert business is False or weekdays(today)
        for steps in d.steps_done.values():
            assert len(steps) == len(set(steps))
