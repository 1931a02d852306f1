"""The reminders service's domain, pure: policy, the per-debtor view, and the daily decision.

No IO, no wall clock: business time is always the explicit `business_date`
(the tenant's date from `clock.tick`), money is always `Decimal`.

Modules: `policy` (steps and thresholds, tenant/segment overrides),
`debtor` (what the service learned from events, serialisable),
`decide` (one debtor, one business day -> outcomes), `learn` (events -> view),
`review` (next review date; a decided message re-checked before sending),
`calendar` (business days), `outcome`.
"""

from .calendar import business_days
from .debtor import ACTIVE_PHASES, Contact, Debtor, Delivery, Hold, Notice, OpenItem, item_key
from .decide import decide, next_business_day, task_priority
from .learn import LEARNERS, learn
from .outcome import Outcome, money
from .policy import (
    DEFAULT_POLICY,
    DEFAULT_STEPS,
    KEY_ACCOUNT,
    SEGMENT_DEFAULTS,
    Policy,
    PolicyError,
    StepSpec,
    parse_overrides,
    policy_for,
)
from .review import confirm, lines_of, next_review, on_account

__all__ = [
    "LEARNERS",
    "business_days",
    "confirm",
    "learn",
    "lines_of",
    "next_review",
    "on_account",
    "ACTIVE_PHASES",
    "DEFAULT_POLICY",
    "DEFAULT_STEPS",
    "KEY_ACCOUNT",
    "SEGMENT_DEFAULTS",
    "Contact",
    "Debtor",
    "Delivery",
    "Hold",
    "Notice",
    "OpenItem",
    "Outcome",
    "Policy",
    "PolicyError",
    "StepSpec",
    "decide",
    "item_key",
    "money",
    "next_business_day",
    "parse_overrides",
    "policy_for",
    "task_priority",
]
