"""Every event type of the contract: its payload model, current schema
version, canonical topic, and whether clients write it."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from . import inbound as i
from . import outcomes as o
from .rejected import EventRejected
from .topics import Topic


@dataclass(frozen=True)
class EventType:
    type: str
    model: type[BaseModel]
    schemaversion: int
    topic: Topic
    inbound: bool

    @property
    def description(self) -> str:
        return (self.model.__doc__ or "").strip()


def _inbound(topic: Topic, models: dict[str, type[BaseModel]]) -> list[EventType]:
    return [EventType(name, model, 1, topic, inbound=True) for name, model in models.items()]


def _written_by_softcollect(topic: Topic, models: dict[str, type[BaseModel]]) -> list[EventType]:
    return [EventType(name, model, 1, topic, inbound=False) for name, model in models.items()]


_ALL = [
    # inbound (CONTRACT.md section 3), at their canonical topic after ingest
    *_inbound(
        Topic.customers,
        {
            "customer.upserted": i.CustomerUpserted,
            "hold.placed": i.HoldPlaced,
            "hold.released": i.HoldReleased,
        },
    ),
    *_inbound(
        Topic.invoices,
        {
            "invoice.issued": i.InvoiceIssued,
            "invoice.cancelled": i.InvoiceCancelled,
            "invoice.delivery_reported": i.InvoiceDeliveryReported,
            "credit_note.issued": i.CreditNoteIssued,
        },
    ),
    *_inbound(
        Topic.payments,
        {
            "payment.received": i.PaymentReceived,
            "payment.reversed": i.PaymentReversed,
        },
    ),
    *_inbound(
        Topic.disputes,
        {
            "dispute.raised": i.DisputeRaised,
            "dispute.resolved": i.DisputeResolved,
        },
    ),
    *_inbound(
        Topic.activities,
        {
            "call.logged": i.CallLogged,
            "promise.recorded": i.PromiseRecorded,
            "plan.proposed": i.PlanProposed,
            "plan.accepted": i.PlanAccepted,
            "plan.cancelled": i.PlanCancelled,
            "settlement.offered": i.SettlementOffered,
            "settlement.accepted": i.SettlementAccepted,
        },
    ),
    *_inbound(Topic.clock, {"clock.tick": i.ClockTick}),
    # ingest's own output
    *_written_by_softcollect(Topic.rejected, {"event.rejected": EventRejected}),
    # outcomes (CONTRACT.md section 4; receivable.balance_changed and
    # customer.on_account_changed added to it, additively)
    *_written_by_softcollect(
        Topic.receivables,
        {
            "receivable.opened": o.ReceivableOpened,
            "receivable.phase_changed": o.ReceivablePhaseChanged,
            "receivable.settled": o.ReceivableSettled,
            "receivable.handed_over": o.ReceivableHandedOver,
            "receivable.balance_changed": o.ReceivableBalanceChanged,
            "payment.applied": o.PaymentApplied,
            "payment.unmatched": o.PaymentUnmatched,
            "customer.on_account_changed": o.CustomerOnAccountChanged,
        },
    ),
    *_written_by_softcollect(
        Topic.positions,
        {
            "customer.locked": o.CustomerLocked,
            "customer.unlocked": o.CustomerUnlocked,
        },
    ),
    *_written_by_softcollect(
        Topic.snapshots,
        {
            "aging.snapshot": o.AgingSnapshot,
            "portfolio.kpis": o.PortfolioKpis,
        },
    ),
    *_written_by_softcollect(
        Topic.reminders,
        {
            "reminder.sent": o.ReminderSent,
            "reminder.suppressed": o.ReminderSuppressed,
            "reminder.failed": o.ReminderFailed,
            "statement.sent": o.StatementSent,
            "task.created": o.TaskCreated,
            "invoice.resubmission_requested": o.InvoiceResubmissionRequested,
        },
    ),
    *_written_by_softcollect(
        Topic.dispute_cases,
        {
            "dispute.opened": o.DisputeOpened,
            "dispute.sla_breached": o.DisputeSlaBreached,
            "dispute.closed": o.DisputeClosed,
            "risk.flagged": o.RiskFlagged,
        },
    ),
    *_written_by_softcollect(
        Topic.settlements,
        {
            "promise.registered": o.PromiseRegistered,
            "promise.kept": o.PromiseKept,
            "promise.partially_kept": o.PromisePartiallyKept,
            "promise.broken": o.PromiseBroken,
            "plan.activated": o.PlanActivated,
            "plan.broken": o.PlanBroken,
            "plan.completed": o.PlanCompleted,
            "installment.paid": o.InstallmentPaid,
            "installment.missed": o.InstallmentMissed,
            "settlement.agreed": o.SettlementAgreed,
            "settlement.completed": o.SettlementCompleted,
            "settlement.lapsed": o.SettlementLapsed,
        },
    ),
]

REGISTRY: dict[str, EventType] = {t.type: t for t in _ALL}
if len(REGISTRY) != len(_ALL):
    raise RuntimeError("duplicate event type in the registry")

INBOUND_TYPES: frozenset[str] = frozenset(t.type for t in _ALL if t.inbound)
