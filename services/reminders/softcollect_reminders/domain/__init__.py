"""The reminders service's domain, pure: policy, the per-debtor view, and the daily decision.

No IO, no wall clock: business time is always the explicit `business_date`
(the tenant's date from `clock.tick`), money is always `Decimal`.

Modules: `policy` (steps and thresholds, tenant/segment overrides),
`debtor` (what the service learned from events, serialisable),
`decide` (one debtor, one business day -> outcomes), `outcome`.
"""

from .debtor import ACTIVE_PHASES, Contact, Debtor, Delivery, Hold, Notice, OpenItem, item_key
from .decide import decide, next_business_day, task_priority
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

__all__ = [
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
