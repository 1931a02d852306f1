"""Closed value lists of the contract.

Member names equal their values so `Phase.just_expired == "just_expired"`
reads the same in code, JSON and the docs. Adding a member is a compatible
change; removing or renaming one needs a new schemaversion.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """Phase of a receivable (an invoice or one of its installments)."""

    upcoming = "upcoming"
    expiring = "expiring"
    just_expired = "just_expired"
    handed_over = "handed_over"
    settled = "settled"
    cancelled = "cancelled"
    written_off = "written_off"


class DeliveryStatus(StrEnum):
    """What the client's delivery channel reported for an invoice."""

    delivered = "delivered"
    not_delivered = "not_delivered"
    rejected = "rejected"
    bounced = "bounced"
    opened = "opened"


class DeliveryChannel(StrEnum):
    """Channel an invoice was delivered through (sdi: Italian e-invoicing exchange; pec: certified e-mail)."""

    sdi = "sdi"
    pec = "pec"
    email = "email"
    portal = "portal"
    post = "post"


class DisputeReason(StrEnum):
    """Why the debtor contests an invoice."""

    pricing = "pricing"
    quantity = "quantity"
    quality = "quality"
    not_received = "not_received"
    already_paid = "already_paid"
    other = "other"


class DisputeOutcome(StrEnum):
    """How the client resolved a dispute."""

    upheld = "upheld"
    rejected = "rejected"
    partially_upheld = "partially_upheld"


class DisputeClosure(StrEnum):
    """Why a dispute case closed: a resolution, or its item left the books."""

    upheld = "upheld"
    rejected = "rejected"
    partially_upheld = "partially_upheld"
    item_settled = "item_settled"
    item_cancelled = "item_cancelled"


class RaisedBy(StrEnum):
    """Who raised a dispute."""

    debtor = "debtor"
    client = "client"
    collector = "collector"


class HoldScope(StrEnum):
    """What a manual hold covers."""

    customer = "customer"
    invoice = "invoice"


class CallOutcome(StrEnum):
    """Result of a collector's call."""

    reached = "reached"
    voicemail = "voicemail"
    unreachable = "unreachable"
    wrong_contact = "wrong_contact"
    invoice_not_received = "invoice_not_received"
    dispute = "dispute"
    promise = "promise"
    payment_sent = "payment_sent"
    refused = "refused"


class ApplicationMethod(StrEnum):
    """Rule by which a payment was applied to open items (DOMAIN.md section 5)."""

    reference = "reference"
    exact_amount = "exact_amount"
    combination = "combination"
    tolerance = "tolerance"
    oldest_first = "oldest_first"
    manual = "manual"


class TaskKind(StrEnum):
    """Kind of work item created for a person."""

    phone_call = "phone_call"
    verify_contact = "verify_contact"
    reconcile_payment = "reconcile_payment"
    review_dispute = "review_dispute"
    account_manager_review = "account_manager_review"


class ReminderChannel(StrEnum):
    """Channel of a written reminder."""

    email = "email"
    letter = "letter"
    sms = "sms"


class SuppressionReason(StrEnum):
    """Why a reminder step did not go out (DOMAIN.md section 4)."""

    disputed = "disputed"
    promise_pending = "promise_pending"
    plan_active = "plan_active"
    on_hold = "on_hold"
    delivery_unconfirmed = "delivery_unconfirmed"
    below_minimum = "below_minimum"
    unapplied_cash = "unapplied_cash"
    frequency_cap = "frequency_cap"
    non_business_day = "non_business_day"
    no_contact = "no_contact"
    superseded = "superseded"
    key_account_approval = "key_account_approval"


class RiskFactor(StrEnum):
    """Explainable contributor to a debtor's litigation risk score (DOMAIN.md section 9)."""

    broken_promises = "broken_promises"
    rejected_disputes = "rejected_disputes"
    reversed_payments = "reversed_payments"
    unreachable_contact = "unreachable_contact"
    days_past_due = "days_past_due"
    over_credit_limit = "over_credit_limit"


class ReceivedVia(StrEnum):
    """Ingest path a rejected event arrived on."""

    kafka = "kafka"
    http = "http"
    csv = "csv"


# Open lists: tenants may define their own values; these are the defaults.
KNOWN_SEGMENTS = ("standard", "key_account", "public_administration")
KNOWN_STEPS = (
    "delivery_check",
    "courtesy",
    "due_today",
    "first_reminder",
    "first_call",
    "statement",
    "second_reminder",
    "second_call",
    "final_notice",
    "handover",
)
