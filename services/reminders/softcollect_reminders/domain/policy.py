"""Reminder policy: the steps of DOMAIN.md §3 and the thresholds of §4, with
per-tenant and per-segment overrides validated with errors naming the bad key.

Override shape (the tenant file's `reminders` section)::

    reminders:
      minimum_amount: "10.00"
      frequency_cap_days: 3
      promise_grace_days: 2
      resubmission_quiet_days: 5
      approval_after_day: null          # written steps after this day need an account manager
      steps: [{name, day, action, priority?, template?, attach_statement?}, ...]   # replaces the whole list
      segments:
        key_account: {approval_after_day: 0}                    # the built-in default
        public_administration: {steps: [...], minimum_amount: "50.00"}

Precedence: defaults < tenant keys < built-in segment defaults < tenant segment keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

Action = Literal["email", "statement", "call_task", "delivery_check", "handover"]
WRITTEN_ACTIONS = frozenset({"email", "statement"})

KEY_ACCOUNT = "key_account"
TRANSPORT_KEYS = frozenset({"sender", "reply_to"})  # keys of the section for the e-mail adapter, not the policy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepSpec(_Strict):
    """One policy step: what happens `day` days past due (negative: before the due date)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="step name carried in events")
    day: int = Field(ge=-365, le=365, description="days past due the step is reached on")
    action: Action
    priority: int = Field(0, ge=0, le=100, description="base priority of the tasks the step creates")
    template: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$", description="template name; default: name")
    attach_statement: bool = Field(False, description="attach the statement of the open items (always for `statement`)")

    @property
    def template_name(self) -> str:
        return self.template or self.name

    @property
    def with_statement(self) -> bool:
        return self.attach_statement or self.action == "statement"

    @property
    def written(self) -> bool:
        return self.action in WRITTEN_ACTIONS


def _check_steps(steps: list[StepSpec] | tuple[StepSpec, ...] | None) -> Any:
    if steps is None:
        return steps
    if not steps:
        raise ValueError("at least one step is needed")
    names = [s.name for s in steps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate step names: {', '.join(dupes)}")
    days = [s.day for s in steps]
    if days != sorted(days):
        raise ValueError("steps must be listed in order of day")
    return steps


DEFAULT_STEPS: tuple[StepSpec, ...] = (
    StepSpec(name="delivery_check", day=-15, action="delivery_check"),
    StepSpec(name="courtesy", day=-7, action="email"),
    StepSpec(name="due_today", day=0, action="email"),
    StepSpec(name="first_reminder", day=3, action="email", attach_statement=True),
    StepSpec(name="first_call", day=10, action="call_task", priority=10),
    StepSpec(name="statement", day=11, action="statement"),
    StepSpec(name="second_reminder", day=15, action="email"),
    StepSpec(name="second_call", day=20, action="call_task", priority=20),
    StepSpec(name="final_notice", day=25, action="email"),
    StepSpec(name="handover", day=31, action="handover"),
)


class Policy(_Strict):
    """The effective policy for one debtor (tenant + segment resolved)."""

    steps: tuple[StepSpec, ...] = DEFAULT_STEPS
    minimum_amount: Decimal = Field(Decimal("5.00"), ge=0)
    frequency_cap_days: int = Field(3, ge=0)
    promise_grace_days: int = Field(2, ge=0)
    resubmission_quiet_days: int = Field(5, ge=0)
    approval_after_day: int | None = Field(
        None, description="written steps with a later day go to the account manager instead (key accounts: 0)"
    )
    segment: str | None = None
    _ranks: dict[str, int] = PrivateAttr(default_factory=dict)

    @field_validator("steps")
    @classmethod
    def _steps_ok(cls, steps: Any) -> Any:
        return _check_steps(steps)

    def model_post_init(self, _context: Any) -> None:
        # by name: `steps.index` compares the pydantic models field by field, on every decision
        self._ranks = {s.name: n for n, s in enumerate(self.steps)}

    def rank(self, step: StepSpec) -> int:
        """Position of a step in the policy: higher = later = stronger."""
        return self._ranks[step.name]


class _Overrides(_Strict):
    steps: list[StepSpec] | None = None
    minimum_amount: Decimal | None = Field(None, ge=0)
    frequency_cap_days: int | None = Field(None, ge=0)
    promise_grace_days: int | None = Field(None, ge=0)
    resubmission_quiet_days: int | None = Field(None, ge=0)
    approval_after_day: int | None = None

    @field_validator("steps")
    @classmethod
    def _steps_ok(cls, steps: Any) -> Any:
        return _check_steps(steps)


class _TenantOverrides(_Overrides):
    segments: dict[str, _Overrides] = {}


# Built-in segment behaviour (DOMAIN.md §4, key_account_approval).
SEGMENT_DEFAULTS: dict[str, dict[str, Any]] = {KEY_ACCOUNT: {"approval_after_day": 0}}

DEFAULT_POLICY = Policy()


class PolicyError(ValueError):
    """An override failed validation; `errors` are `path: message` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid reminders policy: " + "; ".join(errors))
        self.errors = errors


def _path(loc: tuple[Any, ...], root: str) -> str:
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_overrides(
    tenant_overrides: Mapping[str, Any] | BaseModel | None, root: str = "reminders"
) -> _TenantOverrides:
    """Validate a tenant's `reminders` section; raise PolicyError naming every bad key."""
    raw: Any = tenant_overrides or {}
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(exclude_unset=True)
    raw = {k: v for k, v in raw.items() if k not in TRANSPORT_KEYS}
    try:
        return _TenantOverrides.model_validate(raw)
    except ValidationError as exc:
        errors = [f"{_path(e['loc'], root)}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise PolicyError(errors) from None


def policy_for(tenant_overrides: Mapping[str, Any] | BaseModel | None, segment: str | None) -> Policy:
    """The effective policy for a debtor of `segment` under the tenant's overrides."""
    overrides = parse_overrides(tenant_overrides)
    merged: dict[str, Any] = {}
    layers: list[dict[str, Any]] = [overrides.model_dump(exclude={"segments"}, exclude_unset=True)]
    if segment is not None:
        layers.append(SEGMENT_DEFAULTS.get(segment, {}))
        if segment in overrides.segments:
            layers.append(overrides.segments[segment].model_dump(exclude_unset=True))
    for layer in layers:
        merged.update(layer)
    return Policy.model_validate({**merged, "segment": segment})
