"""Payloads of the outcome types (CONTRACT.md section 4), written by
softcollect's services.

Beyond the fields the contract names, every payload that carries money also
carries its `currency` (a debtor may owe in several currencies and amounts
of different currencies never mix), and item-level payloads carry the
optional `installment` wherever the item may be one installment of an invoice.

Following balances from `softcollect.receivables` alone (types added to the
contract's list, additively): every item's open amount is the one of its
`receivable.opened`, replaced by each later `receivable.balance_changed`;
the debtor's money on account per currency (unapplied cash, open credits) is
the latest `customer.on_account_changed`, 0 before the first one. Both carry
the `cause`: the type of the event that changed the figures.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from .base import Issue, OutcomeData, examples
from .enums import (
    ApplicationMethod,
    DisputeClosure,
    DisputeReason,
    Phase,
    RaisedBy,
    ReminderChannel,
    RiskFactor,
    SuppressionReason,
    TaskKind,
)
from .inbound import Installment, installment_issues
from .money import Currency, DecimalString, NonNegativeMoney, PositiveMoney
from .scalars import (
    Count,
    Days,
    EventTypeName,
    Identifier,
    IsoDate,
    Language,
    MessageId,
    Ordinal,
    Percent,
    Step,
    Text,
    Timestamp,
)

InvoiceIds = list[Identifier]

_CURRENCY = "ISO 4217 currency of every amount in this event."
_INSTALLMENT = "1-based position of the installment in the invoice's `installments`; absent for a whole invoice."
_CAUSE = (
    "`type` of the event that changed it, e.g. `payment.received`, `credit_note.issued`, `payment.reversed`, "
    "`invoice.cancelled`, `settlement.completed`; an open list (new types may appear). "
    "The event itself is `causationid`."
)


def _field(description: str, **kwargs):
    return Field(description=description, **kwargs)


# --- receivables (aging) -------------------------------------------------


class ReceivableOpened(OutcomeData):
    """Aging opened a receivable for an invoice or one of its installments."""

    model_config = examples(
        {
            "invoice_id": "INV-2024-000123",
            "due_date": "2024-05-31",
            "currency": "EUR",
            "amount": "1250.00",
            "open_amount": "1250.00",
        }
    )

    invoice_id: Identifier = _field("Invoice the receivable belongs to.")
    installment: Ordinal | None = _field(_INSTALLMENT, default=None)
    due_date: IsoDate = _field("Due date of the receivable.")
    currency: Currency = _field(_CURRENCY)
    amount: PositiveMoney = _field("Original amount of the invoice or installment.")
    open_amount: NonNegativeMoney = _field("Amount still open when opened (net of early payments or credits).")

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.open_amount > self.amount:
            issues.append(Issue(("open_amount",), "open_amount_rule", "open_amount cannot exceed amount"))
        return issues


class ReceivablePhaseChanged(OutcomeData):
    """A receivable moved from one phase to another (DOMAIN.md section 2)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "invoice_id": "INV-2024-000123",
                    "from": "expiring",
                    "to": "just_expired",
                    "days_past_due": 11,
                    "currency": "EUR",
                    "open_amount": "1250.00",
                }
            ]
        },
    )

    invoice_id: Identifier = _field("Invoice the receivable belongs to.")
    installment: Ordinal | None = _field(_INSTALLMENT, default=None)
    from_: Phase = Field(alias="from", description="Phase before (JSON name `from`).")
    to: Phase = _field("Phase after.")
    days_past_due: Days = _field("Business date minus due date, in calendar days (negative before due).")
    currency: Currency = _field(_CURRENCY)
    open_amount: NonNegativeMoney = _field("Amount still open.")

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.from_ == self.to:
            issues.append(Issue(("to",), "same_phase", "to must differ from from"))
        return issues


class ReceivableSettled(OutcomeData):
    """A receivable's open amount reached zero by payment or credit."""

    model_config = examples({"invoice_id": "INV-2024-000123", "settled_on": "2024-06-03", "days_to_pay": 3})

    invoice_id: Identifier = _field("Invoice the receivable belongs to.")
    installment: Ordinal | None = _field(_INSTALLMENT, default=None)
    settled_on: IsoDate = _field("Business date it was settled.")
    days_to_pay: Days = _field("Days from due date to settlement; negative = paid early.")


class ReceivableHandedOver(OutcomeData):
    """A receivable leaves soft collection for the client's hard collection or legal process."""

    model_config = examples(
        {
            "invoice_id": "INV-2024-000123",
            "currency": "EUR",
            "open_amount": "1250.00",
            "days_past_due": 31,
            "reason": "more than 30 days past due",
        }
    )

    invoice_id: Identifier = _field("Invoice the receivable belongs to.")
    installment: Ordinal | None = _field(_INSTALLMENT, default=None)
    currency: Currency = _field(_CURRENCY)
    open_amount: NonNegativeMoney = _field("Amount still open, handed over.")
    days_past_due: Days = _field("Days past due at hand-over.")
    reason: Text = _field("Why it was handed over, free text.")


class ReceivableBalanceChanged(OutcomeData):
    """A receivable's open amount changed. Emitted for every change of an item's open
    amount after its `receivable.opened` (payment, credit note, reversal, cancellation,
    write-off, money held for the invoice applied when it arrived), including to 0
    (settled, cancelled, written off) and back from 0 (a reversal reopening a settled
    item), after the other outcomes of the same cause. Not for the opening itself:
    `receivable.opened` carries the first open amount, and money held for the invoice
    is applied after it, so a `receivable.balance_changed` of the same cause may follow.
    Consumers keep the latest value per item (`invoice_id` + `installment`)."""

    model_config = examples(
        {
            "invoice_id": "INV-2024-000123",
            "currency": "EUR",
            "open_amount": "1000.00",
            "cause": "credit_note.issued",
        },
        {
            "invoice_id": "INV-2024-000124",
            "installment": 2,
            "currency": "EUR",
            "open_amount": "0.00",
            "cause": "payment.received",
        },
    )

    invoice_id: Identifier = _field("Invoice the receivable belongs to.")
    installment: Ordinal | None = _field(_INSTALLMENT, default=None)
    currency: Currency = _field(_CURRENCY)
    open_amount: NonNegativeMoney = _field("The item's open amount after the change.")
    cause: EventTypeName = _field(_CAUSE)


# --- cash application (aging) --------------------------------------------


class Allocation(BaseModel):
    """Part of a payment applied to one receivable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invoice_id: Identifier = _field("Invoice paid.")
    installment: Ordinal | None = _field(_INSTALLMENT, default=None)
    amount: PositiveMoney = _field("Amount applied to it.")


class PaymentApplied(OutcomeData):
    """A payment was applied to open items (DOMAIN.md section 5)."""

    model_config = examples(
        {
            "payment_id": "PAY-2024-009876",
            "currency": "EUR",
            "allocations": [{"invoice_id": "INV-2024-000123", "amount": "1250.00"}],
            "unapplied": "0.00",
            "method": "reference",
        }
    )

    payment_id: Identifier = _field("Payment applied.")
    currency: Currency = _field(_CURRENCY)
    allocations: list[Allocation] = _field("Amounts applied, item by item, in application order.", min_length=1)
    unapplied: NonNegativeMoney = _field("Part of the payment left on the debtor's account.")
    method: ApplicationMethod = _field("Rule that matched.")
    written_off: NonNegativeMoney | None = _field(
        "Difference written off within the tenant's tolerance (method `tolerance`).", default=None
    )


class PaymentUnmatched(OutcomeData):
    """No rule matched a payment; the money stays unapplied on account."""

    model_config = examples(
        {
            "payment_id": "PAY-2024-009877",
            "currency": "EUR",
            "amount": "480.00",
            "reason": "no reference and no matching open amount",
        }
    )

    payment_id: Identifier = _field("Payment not matched.")
    currency: Currency = _field(_CURRENCY)
    amount: PositiveMoney = _field("Amount left unapplied.")
    reason: Text = _field("Why nothing matched, free text.")


class CustomerOnAccountChanged(OutcomeData):
    """The debtor's money on account changed in one currency. Emitted whenever its
    unapplied cash or its open credits change, with both figures after the change:
    up (overpayment, unmatched payment, payment or credit note held for an invoice
    not received yet, credit note without invoice, money returned by a cancellation)
    or down (applied to an item, reversed). Consumers keep the latest value per
    currency; none received means 0."""

    model_config = examples(
        {
            "currency": "EUR",
            "unapplied_cash": "480.00",
            "credits": "0.00",
            "cause": "payment.received",
        },
        {
            "currency": "EUR",
            "unapplied_cash": "480.00",
            "credits": "250.00",
            "cause": "credit_note.issued",
        },
    )

    currency: Currency = _field(_CURRENCY)
    unapplied_cash: NonNegativeMoney = _field(
        "Payments' money not applied to any item, including money held for invoices not received yet."
    )
    credits: NonNegativeMoney = _field(
        "Credit notes' money not applied to any item, including credit held for invoices not received yet."
    )
    cause: EventTypeName = _field(_CAUSE)


# --- positions (aging) ---------------------------------------------------


class _Position(OutcomeData):
    reason: Text = _field(
        "Rule that locked (`overdue`, `plan_broken`, `credit_limit_exceeded`) or why it unlocked "
        "(e.g. `no_rule_holds`); free value."
    )
    currency: Currency = _field(_CURRENCY)
    overdue_amount: NonNegativeMoney = _field("Undisputed, unheld overdue amount at the transition.")
    max_days_past_due: Days = _field("Days past due of the oldest overdue item at the transition (0 if none).")


class CustomerLocked(_Position):
    """The customer's position is locked: the client's ERP should block new orders.
    One event per transition, never repeated."""

    model_config = examples(
        {"reason": "overdue", "currency": "EUR", "overdue_amount": "1250.00", "max_days_past_due": 25}
    )


class CustomerUnlocked(_Position):
    """No lock rule holds any more: the client's ERP may release orders."""

    model_config = examples(
        {"reason": "no_rule_holds", "currency": "EUR", "overdue_amount": "0.00", "max_days_past_due": 0}
    )


# --- snapshots (aging) ---------------------------------------------------


class AgingBuckets(BaseModel):
    """Open amounts by days past due."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    not_due: NonNegativeMoney = _field("Not yet due.")
    d1_30: NonNegativeMoney = _field("1-30 days past due.")
    d31_60: NonNegativeMoney = _field("31-60 days past due.")
    d61_90: NonNegativeMoney = _field("61-90 days past due.")
    d91_120: NonNegativeMoney = _field("91-120 days past due.")
    over_120: NonNegativeMoney = _field("More than 120 days past due.")


class PhaseTotals(BaseModel):
    """Open amounts by phase; terminal phases hold nothing open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upcoming: NonNegativeMoney = _field("Open in phase `upcoming`.")
    expiring: NonNegativeMoney = _field("Open in phase `expiring`.")
    just_expired: NonNegativeMoney = _field("Open in phase `just_expired`.")
    handed_over: NonNegativeMoney = _field("Open in phase `handed_over`.")


def _total(model: BaseModel) -> Decimal:
    return sum((getattr(model, name) for name in type(model).model_fields), start=Decimal(0))


class AgingSnapshot(OutcomeData):
    """Daily aging of one debtor in one currency, after the tick. `open_amount`
    equals the sum of `buckets` and the sum of `phases`."""

    model_config = examples(
        {
            "as_of": "2024-06-03",
            "currency": "EUR",
            "open_amount": "4250.00",
            "buckets": {
                "not_due": "3000.00",
                "d1_30": "1250.00",
                "d31_60": "0.00",
                "d61_90": "0.00",
                "d91_120": "0.00",
                "over_120": "0.00",
            },
            "phases": {"upcoming": "0.00", "expiring": "4250.00", "just_expired": "0.00", "handed_over": "0.00"},
            "disputed": "250.00",
            "unapplied": "0.00",
        }
    )

    as_of: IsoDate = _field("Business date of the snapshot.")
    currency: Currency = _field(_CURRENCY)
    open_amount: NonNegativeMoney = _field("Sum of the open amounts of the debtor's items.")
    buckets: AgingBuckets = _field("Open amounts by days past due.")
    phases: PhaseTotals = _field("Open amounts by phase.")
    disputed: NonNegativeMoney = _field("Part of `open_amount` under dispute.")
    unapplied: NonNegativeMoney = _field("Unapplied cash and credits on account (not in `open_amount`).")

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        for name in ("buckets", "phases"):
            total = _total(getattr(self, name))
            if total != self.open_amount:
                issues.append(Issue((name,), "sum", f"{name} sum to {total} but open_amount is {self.open_amount}"))
        return issues


class PortfolioKpis(OutcomeData):
    """Daily KPIs of the tenant's portfolio in one currency (DOMAIN.md section 10).
    Non-money figures are decimal strings too, never floats. A KPI whose
    denominator is zero is absent."""

    model_config = examples(
        {
            "as_of": "2024-06-03",
            "currency": "EUR",
            "dso": "48.2",
            "best_possible_dso": "39.5",
            "average_days_delinquent": "8.7",
            "cei": "86.40",
            "overdue_ratio": "0.1830",
            "promise_kept_rate": "0.7500",
            "open_disputes": 4,
            "mean_dispute_days": "6.5",
        }
    )

    as_of: IsoDate = _field("Business date of the figures.")
    currency: Currency = _field(_CURRENCY)
    dso: DecimalString = _field("Days sales outstanding, count-back method over monthly credit sales.")
    best_possible_dso: DecimalString = _field("DSO of current (not overdue) receivables only.")
    average_days_delinquent: DecimalString = _field("`dso` minus `best_possible_dso`.")
    cei: DecimalString | None = _field("Collection effectiveness index of the current month, in percent.", default=None)
    overdue_ratio: DecimalString = _field("Overdue open amount / total open amount, 0-1.")
    promise_kept_rate: DecimalString | None = _field(
        "Promises kept / promises come due, 0-1; absent when none came due.", default=None
    )
    open_disputes: Count = _field("Disputes open at `as_of`.")
    mean_dispute_days: DecimalString | None = _field(
        "Mean days from opening to closing of closed disputes; absent when none closed.", default=None
    )


# --- reminders -----------------------------------------------------------


class ReminderSent(OutcomeData):
    """A written reminder went out, listing every open item of one currency."""

    model_config = examples(
        {
            "reminder_id": "rem-7f3e9a2c",
            "step": "first_reminder",
            "channel": "email",
            "language": "it",
            "invoice_ids": ["INV-2024-000123"],
            "currency": "EUR",
            "amount_due": "1250.00",
            "message_id": "<rem-7f3e9a2c@mail.softcollect.example>",
        }
    )

    reminder_id: Identifier = _field("Unique id of the reminder.")
    step: Step = _field("Policy step, e.g. `courtesy`, `first_reminder`, `final_notice`.")
    channel: ReminderChannel = _field("How it was sent.")
    language: Language = _field("BCP 47 language of the message.")
    invoice_ids: InvoiceIds = _field("Items listed.", min_length=1)
    currency: Currency = _field(_CURRENCY)
    amount_due: PositiveMoney = _field("Open amount due of the listed items, net of credits and unapplied cash.")
    message_id: MessageId = _field("Id the mail/letter/SMS provider gave the message (e.g. RFC 5322 Message-ID).")


class ReminderSuppressed(OutcomeData):
    """A reminder step did not go out; says why (DOMAIN.md section 4)."""

    model_config = examples(
        {"step": "first_reminder", "invoice_ids": ["INV-2024-000123"], "reason": "frequency_cap", "until": "2024-06-05"}
    )

    step: Step = _field("Policy step that did not go out.")
    invoice_ids: InvoiceIds = _field("Items it concerned.", min_length=1)
    reason: SuppressionReason = _field("Why.")
    until: IsoDate | None = _field("For a deferral: the date it is deferred to.", default=None)


class ReminderFailed(OutcomeData):
    """Sending a reminder failed. `error` must not quote contact data
    (use `redact_contact_data`)."""

    model_config = examples(
        {
            "reminder_id": "rem-7f3e9a2c",
            "step": "first_reminder",
            "error": "SMTP 451 temporary failure",
            "retry_at": "2024-06-03T10:15:00Z",
        }
    )

    reminder_id: Identifier = _field("Id of the reminder that failed.")
    step: Step = _field("Policy step.")
    error: Text = _field("What failed, without contact data.")
    retry_at: Timestamp | None = _field("When it will be retried (RFC 3339); absent: not retried.", default=None)


class StatementSent(OutcomeData):
    """A statement of account went out."""

    model_config = examples(
        {
            "statement_id": "stm-2024-06-03-0001",
            "as_of": "2024-06-03",
            "currency": "EUR",
            "open_amount": "4250.00",
            "message_id": "<stm-2024-06-03-0001@mail.softcollect.example>",
            "invoice_ids": ["INV-2024-000123", "INV-2024-000124"],
        }
    )

    statement_id: Identifier = _field("Unique id of the statement.")
    as_of: IsoDate = _field("Business date the statement shows balances at.")
    currency: Currency = _field(_CURRENCY)
    open_amount: NonNegativeMoney = _field("Total open amount shown.")
    message_id: MessageId = _field("Provider's id of the message.")
    invoice_ids: InvoiceIds | None = _field("Items listed.", default=None)


class TaskCreated(OutcomeData):
    """A work item for a person: a collector, an account manager, a reconciler."""

    model_config = examples(
        {
            "task_id": "task-2024-0456",
            "kind": "phone_call",
            "priority": 60,
            "due_date": "2024-06-10",
            "invoice_ids": ["INV-2024-000123"],
            "currency": "EUR",
            "amount": "1250.00",
            "step": "first_call",
        }
    )

    task_id: Identifier = _field("Unique id of the task.")
    kind: TaskKind = _field("What to do.")
    priority: Percent = _field("0 (lowest) - 100 (highest).")
    due_date: IsoDate = _field("Date to do it by.")
    invoice_ids: InvoiceIds = _field("Items concerned (may be empty for a customer-level task).")
    currency: Currency = _field(_CURRENCY)
    amount: NonNegativeMoney = _field("Amount at stake.")
    step: Step | None = _field("Policy step that created it, if any.", default=None)
    assignee: Identifier | None = _field(
        "Person it is for (e.g. the account manager); absent: the collectors' queue.", default=None
    )


class InvoiceResubmissionRequested(OutcomeData):
    """The client should send an invoice again: delivery failed or is unconfirmed."""

    model_config = examples({"invoice_id": "INV-2024-000123", "reason": "no delivered report 15 days before due date"})

    invoice_id: Identifier = _field("Invoice to resubmit.")
    reason: Text = _field("Why, free text.")


# --- dispute cases -------------------------------------------------------


class DisputeOpened(OutcomeData):
    """A dispute case opened (from `dispute.raised` or a call outcome)."""

    model_config = examples(
        {
            "dispute_id": "DSP-2024-0031",
            "invoice_id": "INV-2024-000123",
            "reason": "quantity",
            "currency": "EUR",
            "amount": "250.00",
            "sla_due": "2024-06-13",
            "raised_by": "debtor",
        }
    )

    dispute_id: Identifier = _field("Id of the dispute (from `dispute.raised`, or generated for a call).")
    invoice_id: Identifier = _field("Invoice contested.")
    reason: DisputeReason = _field("Why.")
    currency: Currency = _field(_CURRENCY)
    amount: PositiveMoney = _field("Disputed amount.")
    sla_due: IsoDate = _field("Date the client's business owner should decide by.")
    raised_by: RaisedBy | None = _field("Who raised it.", default=None)


class DisputeSlaBreached(OutcomeData):
    """A dispute case passed its SLA without a decision."""

    model_config = examples(
        {"dispute_id": "DSP-2024-0031", "invoice_id": "INV-2024-000123", "sla_due": "2024-06-13", "days_open": 11}
    )

    dispute_id: Identifier = _field("Id of the dispute.")
    invoice_id: Identifier = _field("Invoice contested.")
    sla_due: IsoDate = _field("The SLA date passed.")
    days_open: Count = _field("Days since the case opened.")


class DisputeClosed(OutcomeData):
    """A dispute case closed."""

    model_config = examples(
        {"dispute_id": "DSP-2024-0031", "invoice_id": "INV-2024-000123", "outcome": "partially_upheld", "days_open": 7}
    )

    dispute_id: Identifier = _field("Id of the dispute.")
    invoice_id: Identifier = _field("Invoice contested.")
    outcome: DisputeClosure = _field(
        "The client's decision, or `item_settled` / `item_cancelled` when the item left the books first."
    )
    days_open: Count = _field("Days from opening to closing.")


class RiskFactorScore(BaseModel):
    """One factor's contribution to a risk score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factor: RiskFactor = _field("Which factor.")
    points: Percent = _field("Points it adds to the score.")
    detail: Text | None = _field("Explanation, e.g. `2 broken promises in 90 days`.", default=None)


class RiskFlagged(OutcomeData):
    """The debtor's litigation-risk score crossed the tenant's threshold
    (once per crossing)."""

    model_config = examples(
        {
            "score": 74,
            "threshold": 70,
            "factors": [
                {"factor": "broken_promises", "points": 40, "detail": "2 broken promises"},
                {"factor": "days_past_due", "points": 34, "detail": "oldest item 27 days past due"},
            ],
        }
    )

    score: Percent = _field("Risk score 0-100.")
    threshold: Percent = _field("Tenant threshold crossed.")
    factors: list[RiskFactorScore] = _field("Explainable contributions, largest first.", min_length=1)

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.score < self.threshold:
            issues.append(Issue(("score",), "below_threshold", "score is below threshold; nothing was crossed"))
        return issues


# --- promises, plans, settlements ----------------------------------------


class _Promise(OutcomeData):
    promise_id: Identifier = _field("Id of the promise.")
    currency: Currency = _field(_CURRENCY)
    amount: PositiveMoney = _field("Amount promised.")
    paid: NonNegativeMoney = _field("Amount paid towards it so far.")
    promised_date: IsoDate = _field("Date promised.")
    invoice_ids: InvoiceIds = _field("Items covered.", min_length=1)


_PROMISE = {
    "promise_id": "PRM-2024-0402",
    "currency": "EUR",
    "amount": "1250.00",
    "promised_date": "2024-06-14",
    "invoice_ids": ["INV-2024-000123"],
}


class PromiseRegistered(_Promise):
    """A promise to pay is in force; it replaces an open promise on the same items."""

    model_config = examples({**_PROMISE, "paid": "0.00"})


class PromiseKept(_Promise):
    """At promised date + 2 days, `paid` >= `amount`."""

    model_config = examples({**_PROMISE, "paid": "1250.00"})

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.paid < self.amount:
            issues.append(Issue(("paid",), "promise_rule", "a kept promise has paid >= amount"))
        return issues


class PromisePartiallyKept(_Promise):
    """At promised date + 2 days, 0 < `paid` < `amount`."""

    model_config = examples({**_PROMISE, "paid": "600.00"})

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if not 0 < self.paid < self.amount:
            issues.append(Issue(("paid",), "promise_rule", "a partially kept promise has 0 < paid < amount"))
        return issues


class PromiseBroken(_Promise):
    """At promised date + 2 days nothing was paid; collection resumes."""

    model_config = examples({**_PROMISE, "paid": "0.00"})

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.paid != 0:
            issues.append(Issue(("paid",), "promise_rule", "a broken promise has paid = 0"))
        return issues


class PlanActivated(OutcomeData):
    """An accepted repayment plan is in force; covered items are on hold."""

    model_config = examples(
        {
            "plan_id": "PLAN-2024-0007",
            "invoice_ids": ["INV-2024-000123"],
            "currency": "EUR",
            "installments": [
                {"due_date": "2024-07-15", "amount": "625.00"},
                {"due_date": "2024-08-15", "amount": "625.00"},
            ],
        }
    )

    plan_id: Identifier = _field("Id of the plan.")
    invoice_ids: InvoiceIds = _field("Items covered.", min_length=1)
    currency: Currency = _field(_CURRENCY)
    installments: list[Installment] = _field(
        "Installments in due-date order; `installment` in later events is the 1-based position.", min_length=1
    )

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        issues.extend(installment_issues(self.installments))
        return issues


class _PlanInstallment(OutcomeData):
    plan_id: Identifier = _field("Id of the plan.")
    installment: Ordinal = _field("1-based position of the installment in the plan.")
    due_date: IsoDate = _field("Its due date (grace of 3 days follows).")
    currency: Currency = _field(_CURRENCY)
    amount: PositiveMoney = _field("Installment amount.")
    paid: NonNegativeMoney = _field("Amount counted towards it.")


_INSTALLMENT_EXAMPLE = {
    "plan_id": "PLAN-2024-0007",
    "installment": 1,
    "due_date": "2024-07-15",
    "currency": "EUR",
    "amount": "625.00",
}


class InstallmentPaid(_PlanInstallment):
    """A plan installment was paid in full."""

    model_config = examples({**_INSTALLMENT_EXAMPLE, "paid": "625.00"})

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.paid < self.amount:
            issues.append(Issue(("paid",), "installment_rule", "a paid installment has paid >= amount"))
        return issues


class InstallmentMissed(_PlanInstallment):
    """A plan installment was not paid in full by its due date + grace."""

    model_config = examples({**_INSTALLMENT_EXAMPLE, "paid": "100.00", "grace_until": "2024-07-18"})

    grace_until: IsoDate = _field("Last day of grace that passed.")

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.paid >= self.amount:
            issues.append(Issue(("paid",), "installment_rule", "a missed installment has paid < amount"))
        return issues


class PlanBroken(OutcomeData):
    """A plan broke (missed installments beyond the tenant's allowance); items
    return to collection with their real age and the position locks."""

    model_config = examples(
        {
            "plan_id": "PLAN-2024-0007",
            "reason": "installment 1 missed",
            "currency": "EUR",
            "open_amount": "1150.00",
            "missed_installments": [1],
        }
    )

    plan_id: Identifier = _field("Id of the plan.")
    reason: Text = _field("Why, free text.")
    currency: Currency = _field(_CURRENCY)
    open_amount: NonNegativeMoney = _field("Amount of the covered items still open.")
    missed_installments: list[Ordinal] = _field("Positions of the missed installments.", default_factory=list)


class PlanCompleted(OutcomeData):
    """Every installment of a plan was paid."""

    model_config = examples({"plan_id": "PLAN-2024-0007", "currency": "EUR", "paid": "1250.00"})

    plan_id: Identifier = _field("Id of the plan.")
    currency: Currency = _field(_CURRENCY)
    paid: PositiveMoney = _field("Total paid under the plan.")


class _Settlement(OutcomeData):
    settlement_id: Identifier = _field("Id of the settlement.")
    invoice_ids: InvoiceIds = _field("Items it settles.", min_length=1)
    currency: Currency = _field(_CURRENCY)


_SETTLEMENT = {"settlement_id": "STL-2024-0003", "invoice_ids": ["INV-2024-000123"], "currency": "EUR"}


class SettlementAgreed(_Settlement):
    """An accepted settlement is in force; covered items are on hold."""

    model_config = examples({**_SETTLEMENT, "amount": "1000.00", "open_amount": "1250.00", "pay_by": "2024-07-31"})

    amount: PositiveMoney = _field("Agreed amount, less than `open_amount`.")
    open_amount: PositiveMoney = _field("Open amount of the items when agreed.")
    pay_by: IsoDate = _field("Last day to pay.")

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.amount >= self.open_amount:
            issues.append(Issue(("amount",), "settlement_rule", "a settlement amount must be less than open_amount"))
        return issues


class SettlementCompleted(_Settlement):
    """The agreed amount was paid in time; the rest is written off."""

    model_config = examples({**_SETTLEMENT, "paid": "1000.00", "written_off": "250.00"})

    paid: PositiveMoney = _field("Amount paid.")
    written_off: NonNegativeMoney = _field("Remainder written off.")


class SettlementLapsed(_Settlement):
    """The agreed amount was not paid by `pay_by`; items return to collection."""

    model_config = examples({**_SETTLEMENT, "amount": "1000.00", "paid": "0.00", "pay_by": "2024-07-31"})

    amount: PositiveMoney = _field("Agreed amount.")
    paid: NonNegativeMoney = _field("Amount paid by `pay_by`.")
    pay_by: IsoDate = _field("The date that passed.")

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.paid >= self.amount:
            issues.append(Issue(("paid",), "settlement_rule", "a lapsed settlement has paid < amount"))
        return issues
