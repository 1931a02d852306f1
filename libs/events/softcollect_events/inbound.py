"""Payloads of the inbound types (CONTRACT.md section 3): written by clients'
systems and collectors, on `softcollect.inbound.<tenantid>`, over HTTP or CSV."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .base import InboundData, Issue, examples
from .enums import (
    CallOutcome,
    DeliveryChannel,
    DeliveryStatus,
    DisputeOutcome,
    DisputeReason,
    HoldScope,
    RaisedBy,
)
from .money import Currency, NonNegativeMoney, PositiveMoney
from .scalars import Country, Email, Identifier, IsoDate, Language, Phone, Segment, Text

InvoiceIds = list[Identifier]


class Installment(BaseModel):
    """One installment of an invoice or of a repayment plan. Its 1-based
    position in the list identifies it in outcome events (`installment`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    due_date: IsoDate = Field(description="Date this installment falls due.")
    amount: PositiveMoney = Field(description="Amount of this installment, in the parent's currency.")


def installment_issues(installments: list[Installment] | None, total=None) -> list[Issue]:
    issues: list[Issue] = []
    if not installments:
        return issues
    for index in range(1, len(installments)):
        if installments[index].due_date < installments[index - 1].due_date:
            issues.append(Issue(
                ("installments", index, "due_date"),
                "installment_order",
                f"installments must be in due-date order; installments[{index}] falls due before "
                f"installments[{index - 1}]",
            ))
    if total is not None:
        subtotal = sum((i.amount for i in installments), start=0)
        if subtotal != total:
            issues.append(Issue(
                ("installments",),
                "installments_sum",
                f"installments sum to {subtotal} but amount is {total}; they must sum to it exactly",
                str(subtotal),
            ))
    return issues


class CustomerUpserted(InboundData):
    """A debtor was created or changed in the client's system. It carries the
    debtor's full current master data: an optional field left out is cleared
    (or takes the tenant default), not kept from an earlier upsert. The only
    type that carries contact data; softcollect never repeats it in outcomes."""

    model_config = examples(
        {
            "name": "Rossi Forniture S.r.l.",
            "emails": ["amministrazione@rossiforniture.example"],
            "phone": "+39 02 1234567",
            "language": "it",
            "country": "IT",
            "segment": "standard",
            "credit_limit": "20000.00",
            "currency": "EUR",
            "account_manager": "am-bianchi",
        }
    )

    name: Text = Field(description="Legal or trading name of the debtor.")
    emails: list[Email] | None = Field(
        None,
        max_length=20,
        description="E-mail addresses for written reminders, preferred first. Absent or empty: "
        "no usable e-mail (reminders turn into `verify_contact` tasks).",
    )
    phone: Phone | None = Field(None, description="Phone number for collectors' calls, preferably E.164 (+39...).")
    language: Language | None = Field(
        None, description="BCP 47 language for communications, e.g. `it`, `en-GB`. Absent: the tenant's default."
    )
    country: Country | None = Field(
        None, description="ISO 3166-1 alpha-2 country of the debtor; picks the public-holiday calendar."
    )
    segment: Segment | None = Field(
        None,
        description="Customer segment. Known values: `standard` (default), `key_account` (written reminders after "
        "day 0 need the account manager), `public_administration`; tenants may define others.",
    )
    credit_limit: NonNegativeMoney | None = Field(
        None, description="Credit limit granted to the debtor, in `currency`; exceeding it can lock the position."
    )
    currency: Currency | None = Field(None, description="ISO 4217 currency of `credit_limit`; required with it.")
    account_manager: Identifier | None = Field(
        None, description="Id of the client's account manager for this debtor (receives key-account review tasks)."
    )

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.credit_limit is not None and self.currency is None:
            issues.append(Issue(("currency",), "missing", "currency is required when credit_limit is given"))
        return issues


class InvoiceIssued(InboundData):
    """The client issued an invoice to the debtor. Starts aging: each invoice,
    or each of its installments, is a receivable of its own."""

    model_config = examples(
        {
            "invoice_id": "INV-2024-000123",
            "number": "2024/123",
            "issue_date": "2024-04-02",
            "due_date": "2024-05-31",
            "currency": "EUR",
            "amount": "1250.00",
        },
        {
            "invoice_id": "INV-2024-000124",
            "number": "2024/124",
            "issue_date": "2024-04-02",
            "due_date": "2024-06-30",
            "currency": "EUR",
            "amount": "3000.00",
            "installments": [
                {"due_date": "2024-05-31", "amount": "1500.00"},
                {"due_date": "2024-06-30", "amount": "1500.00"},
            ],
        },
    )

    invoice_id: Identifier = Field(description="Client's unique id of the invoice; later events refer to it.")
    number: Identifier = Field(description="Invoice number as printed, which debtors quote in remittances.")
    issue_date: IsoDate = Field(description="Date of issue.")
    due_date: IsoDate = Field(description="Due date (of the last installment, if any); not before `issue_date`.")
    currency: Currency = Field(description="ISO 4217 currency of every amount of the invoice.")
    amount: PositiveMoney = Field(description="Total amount due, taxes included; > 0.")
    installments: list[Installment] | None = Field(
        None,
        min_length=1,
        description="Installments, in due-date order, summing exactly to `amount`; each ages on its own. "
        "Absent: one installment of `amount` on `due_date`.",
    )

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.due_date < self.issue_date:
            issues.append(Issue(("due_date",), "date_order", "due_date is before issue_date"))
        issues.extend(installment_issues(self.installments, self.amount))
        return issues


class InvoiceCancelled(InboundData):
    """The client cancelled an invoice; its receivables leave aging as `cancelled`."""

    model_config = examples({"invoice_id": "INV-2024-000123", "reason": "issued twice"})

    invoice_id: Identifier = Field(description="Id of the cancelled invoice.")
    reason: Text | None = Field(None, description="Why it was cancelled, free text.")


class InvoiceDeliveryReported(InboundData):
    """The client's delivery channel reported what happened to an invoice
    (the day -15 delivery check depends on it)."""

    model_config = examples({"invoice_id": "INV-2024-000123", "status": "delivered", "channel": "sdi"})

    invoice_id: Identifier = Field(description="Id of the invoice the report is about.")
    status: DeliveryStatus = Field(description="Delivery outcome.")
    channel: DeliveryChannel | None = Field(None, description="Channel that reported it.")


class CreditNoteIssued(InboundData):
    """The client issued a credit note; it reduces its invoice or sits on the
    debtor's account."""

    model_config = examples(
        {
            "credit_note_id": "CN-2024-000045",
            "amount": "250.00",
            "currency": "EUR",
            "issue_date": "2024-05-10",
            "invoice_id": "INV-2024-000123",
        }
    )

    credit_note_id: Identifier = Field(description="Client's unique id of the credit note.")
    amount: PositiveMoney = Field(description="Credited amount; > 0.")
    currency: Currency = Field(description="ISO 4217 currency of `amount`.")
    issue_date: IsoDate = Field(description="Date of issue.")
    invoice_id: Identifier | None = Field(
        None, description="Invoice it credits. Absent: the credit sits on the debtor's account."
    )


class PaymentReceived(InboundData):
    """Money from the debtor reached the client's account."""

    model_config = examples(
        {
            "payment_id": "PAY-2024-009876",
            "amount": "1250.00",
            "currency": "EUR",
            "value_date": "2024-06-03",
            "invoice_refs": ["2024/123"],
            "remittance": "Saldo fattura 2024/123",
            "method": "bank_transfer",
        }
    )

    payment_id: Identifier = Field(description="Client's unique id of the payment.")
    amount: PositiveMoney = Field(description="Amount received; > 0.")
    currency: Currency = Field(description="ISO 4217 currency of `amount`.")
    value_date: IsoDate = Field(description="Value date of the payment.")
    invoice_refs: list[Identifier] | None = Field(
        None, description="Invoice numbers or ids the payer referenced, in the order given."
    )
    remittance: Text | None = Field(None, description="Free remittance text; searched for invoice references.")
    method: Identifier | None = Field(
        None,
        description="Payment instrument, free value, e.g. `bank_transfer`, `sepa_direct_debit`, `card`, "
        "`cheque`, `cash`.",
    )


class PaymentReversed(InboundData):
    """A payment bounced or was reversed; what it settled reopens."""

    model_config = examples({"payment_id": "PAY-2024-009876", "reason": "direct debit returned: insufficient funds"})

    payment_id: Identifier = Field(description="Id of the reversed payment.")
    reason: Text | None = Field(None, description="Why it was reversed, free text.")


class DisputeRaised(InboundData):
    """The debtor contests (part of) an invoice; the disputed part is not reminded."""

    model_config = examples(
        {
            "dispute_id": "DSP-2024-0031",
            "invoice_id": "INV-2024-000123",
            "reason": "quantity",
            "amount": "250.00",
            "raised_by": "debtor",
            "note": "Delivered 8 pallets, invoiced 10",
        }
    )

    dispute_id: Identifier = Field(description="Unique id of the dispute.")
    invoice_id: Identifier = Field(description="Invoice contested.")
    reason: DisputeReason = Field(description="Why the debtor contests it.")
    amount: PositiveMoney | None = Field(
        None, description="Disputed amount, in the invoice's currency. Absent: the invoice's whole open amount."
    )
    raised_by: RaisedBy | None = Field(None, description="Who raised it.")
    note: Text | None = Field(None, description="Free text.")


class DisputeResolved(InboundData):
    """The client decided a dispute."""

    model_config = examples({"dispute_id": "DSP-2024-0031", "outcome": "partially_upheld", "credited_amount": "125.00"})

    dispute_id: Identifier = Field(description="Id of the dispute.")
    outcome: DisputeOutcome = Field(
        description="`upheld`: a credit note follows; `rejected`: the amount returns to collection; "
        "`partially_upheld`: both."
    )
    credited_amount: PositiveMoney | None = Field(
        None,
        description="Amount the client will credit, in the invoice's currency; informative (the credit note "
        "itself does the crediting). Not allowed with `rejected`.",
    )

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.outcome == DisputeOutcome.rejected and self.credited_amount is not None:
            issues.append(Issue(("credited_amount",), "not_allowed",
                                "credited_amount is not allowed with outcome 'rejected'"))
        return issues


class HoldPlaced(InboundData):
    """A person suspended reminders for the whole customer or one invoice."""

    model_config = examples(
        {
            "hold_id": "HOLD-77",
            "scope": "invoice",
            "invoice_id": "INV-2024-000123",
            "until": "2024-06-15",
            "reason": "customer restructuring, agreed by account manager",
        }
    )

    hold_id: Identifier = Field(description="Unique id of the hold; `hold.released` refers to it.")
    scope: HoldScope = Field(description="Whole customer, or one invoice.")
    invoice_id: Identifier | None = Field(
        None, description="Invoice held; required when `scope` is `invoice`, not allowed when `customer`."
    )
    until: IsoDate | None = Field(None, description="Last day of the hold (inclusive). Absent: until released.")
    reason: Text = Field(description="Why, free text.")

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        if self.scope == HoldScope.invoice and self.invoice_id is None:
            issues.append(Issue(("invoice_id",), "missing", "invoice_id is required when scope is 'invoice'"))
        if self.scope == HoldScope.customer and self.invoice_id is not None:
            issues.append(Issue(("invoice_id",), "not_allowed", "invoice_id is not allowed when scope is 'customer'"))
        return issues


class HoldReleased(InboundData):
    """A hold ends before its `until` date (or had none)."""

    model_config = examples({"hold_id": "HOLD-77"})

    hold_id: Identifier = Field(description="Id of the hold released.")


class CallLogged(InboundData):
    """A collector logged a call with the debtor."""

    model_config = examples(
        {
            "call_id": "CALL-2024-1120",
            "outcome": "promise",
            "invoice_ids": ["INV-2024-000123"],
            "note": "Will pay by end of next week",
            "collector": "col-verdi",
        }
    )

    call_id: Identifier = Field(description="Unique id of the call.")
    outcome: CallOutcome = Field(
        description="Result. `dispute` and `invoice_not_received` open a dispute case (the latter also "
        "requests resubmission)."
    )
    invoice_ids: InvoiceIds | None = Field(None, description="Invoices discussed.")
    note: Text | None = Field(None, description="Collector's note, free text.")
    collector: Identifier | None = Field(None, description="Id of the collector who called.")


class PromiseRecorded(InboundData):
    """The debtor promised to pay; reminders for the covered items pause until
    the promised date + 2 days."""

    model_config = examples(
        {
            "promise_id": "PRM-2024-0402",
            "amount": "1250.00",
            "promised_date": "2024-06-14",
            "invoice_ids": ["INV-2024-000123"],
        }
    )

    promise_id: Identifier = Field(description="Unique id of the promise.")
    amount: PositiveMoney = Field(description="Amount promised, in the invoices' currency; > 0.")
    promised_date: IsoDate = Field(description="Date the debtor promised to pay by.")
    invoice_ids: InvoiceIds | None = Field(None, description="Items covered. Absent: the debtor's overdue items.")


class PlanProposed(InboundData):
    """A collector proposed a repayment plan to the debtor."""

    model_config = examples(
        {
            "plan_id": "PLAN-2024-0007",
            "invoice_ids": ["INV-2024-000123"],
            "installments": [
                {"due_date": "2024-07-15", "amount": "625.00"},
                {"due_date": "2024-08-15", "amount": "625.00"},
            ],
        }
    )

    plan_id: Identifier = Field(description="Unique id of the plan.")
    invoice_ids: InvoiceIds = Field(min_length=1, description="Items the plan covers.")
    installments: list[Installment] = Field(
        min_length=1, description="Plan installments in due-date order, in the items' currency."
    )

    def contract_issues(self) -> list[Issue]:
        issues = super().contract_issues()
        issues.extend(installment_issues(self.installments))
        return issues


class PlanAccepted(InboundData):
    """The debtor accepted a proposed plan; covered items go on hold."""

    model_config = examples({"plan_id": "PLAN-2024-0007"})

    plan_id: Identifier = Field(description="Id of the plan accepted.")


class PlanCancelled(InboundData):
    """A proposed or active plan was withdrawn; items return to collection."""

    model_config = examples({"plan_id": "PLAN-2024-0007"})

    plan_id: Identifier = Field(description="Id of the plan cancelled.")


class SettlementOffered(InboundData):
    """A collector offered to settle items for less than their open amount."""

    model_config = examples(
        {
            "settlement_id": "STL-2024-0003",
            "invoice_ids": ["INV-2024-000123"],
            "amount": "1000.00",
            "pay_by": "2024-07-31",
        }
    )

    settlement_id: Identifier = Field(description="Unique id of the settlement.")
    invoice_ids: InvoiceIds = Field(min_length=1, description="Items it would settle.")
    amount: PositiveMoney = Field(
        description="Amount the debtor pays, in the items' currency; must be less than their open amount "
        "(checked against the ledger by the settlements service)."
    )
    pay_by: IsoDate = Field(description="Last day to pay it.")


class SettlementAccepted(InboundData):
    """The debtor accepted a settlement offer."""

    model_config = examples({"settlement_id": "STL-2024-0003"})

    settlement_id: Identifier = Field(description="Id of the settlement accepted.")


class ClockTick(InboundData):
    """The tenant's business date advanced. Every date rule runs on it; services
    never read the wall clock. Accepted from clients only for `simulated`
    tenants; for the others ingest emits one per business day."""

    model_config = examples({"business_date": "2024-06-03"})

    business_date: IsoDate = Field(description="The tenant's new business date.")


__all__ = [
    "CallLogged",
    "ClockTick",
    "CreditNoteIssued",
    "CustomerUpserted",
    "DisputeRaised",
    "DisputeResolved",
    "HoldPlaced",
    "HoldReleased",
    "Installment",
    "InvoiceCancelled",
    "InvoiceDeliveryReported",
    "InvoiceIssued",
    "PaymentReceived",
    "PaymentReversed",
    "PlanAccepted",
    "PlanCancelled",
    "PlanProposed",
    "PromiseRecorded",
    "SettlementAccepted",
    "SettlementOffered",
]
