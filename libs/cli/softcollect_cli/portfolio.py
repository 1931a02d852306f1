"""The demo portfolio: a small, fixed set of debtors of the ``demo`` tenant and what happens to
them over 60 business days, as the inbound events a client's ERP would send.

Each day starts with the tenant's ``clock.tick`` (as a live clock ticks at the start of the
business day), then come that day's events. The simulated tenant's ERP ticks every calendar day
(weekends too), so the reminder steps that fall on a weekend or on a public holiday show their
deferral (`non_business_day`); it sends events on weekdays only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from softcollect_events import TENANT_CUSTOMERID, deterministic_id

TENANT = "demo"
SOURCE = "erp/demo-gestionale"
START = dt.date(2026, 1, 5)  # a Monday


@dataclass
class Day:
    business_date: dt.date
    events: list[dict] = field(default_factory=list)

    @property
    def business(self) -> bool:
        """A working day of the client's office (Monday to Friday): the days it sends events."""
        return self.business_date.weekday() < 5


def _event(type_: str, customer: str, when: dt.date, data: dict, key: str) -> dict:
    return {
        "specversion": "1.0", "id": deterministic_id("demo", type_, key), "source": SOURCE, "type": type_,
        "time": f"{when.isoformat()}T09:00:00+01:00", "tenantid": TENANT, "customerid": customer,
        "datacontenttype": "application/json", "data": data,
    }


def _business_days(start: dt.date, count: int) -> list[dt.date]:
    days, d = [], start
    while len(days) < count:
        if d.weekday() < 5:
            days.append(d)
        d += dt.timedelta(days=1)
    return days


CUSTOMERS = [
    # id, name, emails, language, country, segment, credit limit
    ("C-ROSSI", "Rossi Costruzioni S.r.l.", ["amministrazione@rossi.example"], "it", "IT", "standard", None),
    ("C-BIANCHI", "Bianchi Logistica S.p.A.", [], "it", "IT", "standard", None),
    ("C-MUELLER", "Müller Maschinenbau GmbH", ["buchhaltung@mueller.example"], "en", "DE", "standard", "5000.00"),
    ("C-GDO", "Grande Distribuzione Nord S.p.A.", ["ap@gdnord.example"], "it", "IT", "key_account", None),
    ("C-VERDI", "Verdi Impianti S.n.c.", ["verdi.impianti@pec.example"], "it", "IT", "standard", "1000.00"),
    ("C-COMUNE", "Comune di Valmora", ["ragioneria@comune-valmora.example"], "it", "IT", "public_administration",
     None),
]
# Key accounts' review tasks go to their account manager (reminders' `account_manager_review`).
ACCOUNT_MANAGERS = {"C-GDO": "am-ferrari"}


def build(days: int = 60) -> list[Day]:
    """Every calendar day from START through the `days`-th business day, with what the client
    sends on it (business day `n` of the portfolio: the n-th weekday); each day starts with its
    ``clock.tick``."""
    business = _business_days(START, days)
    calendar = [Day(START + dt.timedelta(days=n)) for n in range((business[-1] - START).days + 1)]
    by_date = {d.business_date: d for d in calendar}

    def on(n: int, type_: str, customer: str, data: dict, key: str) -> None:
        if n < len(business):
            by_date[business[n]].events.append(_event(type_, customer, business[n], data, key))

    def due(n: int) -> str:
        return (START + dt.timedelta(days=n)).isoformat()

    for cid, name, emails, lang, country, segment, limit in CUSTOMERS:
        data = {"name": name, "emails": emails, "language": lang, "country": country, "segment": segment}
        if limit:
            data.update(credit_limit=limit, currency="EUR")
        if cid in ACCOUNT_MANAGERS:
            data["account_manager"] = ACCOUNT_MANAGERS[cid]
        on(0, "customer.upserted", cid, data, f"cust-{cid}")

    invoices = [  # customer, invoice, number, issued (day), due (calendar days from start), amount
        ("C-ROSSI", "INV-1001", "2026/1001", 0, 14, "1250.00"),
        ("C-ROSSI", "INV-1002", "2026/1002", 0, 20, "830.50"),
        ("C-BIANCHI", "INV-1003", "2026/1003", 0, 10, "2400.00"),
        ("C-MUELLER", "INV-1004", "2026/1004", 0, 16, "4200.00"),
        ("C-GDO", "INV-1005", "2026/1005", 0, 12, "15800.00"),
        ("C-VERDI", "INV-1006", "2026/1006", 0, 8, "640.00"),
        ("C-VERDI", "INV-1007", "2026/1007", 0, 22, "910.00"),
        ("C-COMUNE", "INV-1008", "2026/1008", 0, 30, "3100.00"),
    ]
    for cid, inv, number, n, due_in, amount in invoices:
        on(n, "invoice.issued", cid, {"invoice_id": inv, "number": number, "issue_date": START.isoformat(),
                                      "due_date": due(due_in), "currency": "EUR", "amount": amount}, inv)
    # An invoice in three installments, each aging on its own.
    on(1, "invoice.issued", "C-MUELLER", {
        "invoice_id": "INV-1009", "number": "2026/1009", "issue_date": due(1), "due_date": due(61),
        "currency": "EUR", "amount": "3000.00", "installments": [
            {"due_date": due(31), "amount": "1000.00"}, {"due_date": due(46), "amount": "1000.00"},
            {"due_date": due(61), "amount": "1000.00"}]}, "INV-1009")
    # Delivery reports: most invoices reach their debtor at once; Rossi's two a couple of days
    # later (reminders asks to resubmit INV-1001 in the meantime); the municipality's portal
    # rejects INV-1008 and Müller's INV-1009 is never confirmed (resubmission requests).
    for n, cid, inv, channel in [(0, "C-BIANCHI", "INV-1003", "sdi"), (0, "C-MUELLER", "INV-1004", "email"),
                                 (0, "C-GDO", "INV-1005", "sdi"), (0, "C-VERDI", "INV-1006", "pec"),
                                 (0, "C-VERDI", "INV-1007", "pec"), (2, "C-ROSSI", "INV-1001", "sdi"),
                                 (2, "C-ROSSI", "INV-1002", "sdi")]:
        on(n, "invoice.delivery_reported", cid, {"invoice_id": inv, "status": "delivered", "channel": channel},
           f"dlv-{inv[4:]}")
    on(2, "invoice.delivery_reported", "C-COMUNE", {"invoice_id": "INV-1008", "status": "rejected",
                                                    "channel": "sdi"}, "dlv-1008")
    # Rossi pays the first invoice early, quoting it; the second with a typo in the remittance.
    on(8, "payment.received", "C-ROSSI", {"payment_id": "PAY-501", "amount": "1250.00", "currency": "EUR",
                                         "value_date": due(12), "invoice_refs": ["2026/1001"]}, "PAY-501")
    on(18, "payment.received", "C-ROSSI", {"payment_id": "PAY-502", "amount": "830.50", "currency": "EUR",
                                          "value_date": due(25), "remittance": "saldo fatt. 2026/1O02"}, "PAY-502")
    # GDO disputes part of its invoice on quality; Verdi promises to pay.
    on(10, "dispute.raised", "C-GDO", {"dispute_id": "DSP-1", "invoice_id": "INV-1005", "reason": "quality",
                                       "amount": "2800.00", "raised_by": "debtor"}, "DSP-1")
    on(14, "call.logged", "C-VERDI", {"call_id": "CALL-1", "outcome": "promise", "invoice_ids": ["INV-1006"],
                                      "collector": "giulia"}, "CALL-1")
    on(14, "promise.recorded", "C-VERDI", {"promise_id": "PRM-1", "amount": "640.00", "promised_date": due(24),
                                           "invoice_ids": ["INV-1006"]}, "PRM-1")
    on(20, "payment.received", "C-VERDI", {"payment_id": "PAY-503", "amount": "640.00", "currency": "EUR",
                                          "value_date": due(27)}, "PAY-503")
    on(24, "dispute.resolved", "C-GDO", {"dispute_id": "DSP-1", "outcome": "partially_upheld",
                                         "credited_amount": "1200.00"}, "DSP-1-res")
    on(25, "credit_note.issued", "C-GDO", {"credit_note_id": "CN-77", "amount": "1200.00", "currency": "EUR",
                                           "issue_date": due(34), "invoice_id": "INV-1005"}, "CN-77")
    on(26, "payment.received", "C-GDO", {"payment_id": "PAY-504", "amount": "14600.00", "currency": "EUR",
                                        "value_date": due(35), "invoice_refs": ["INV-1005"]}, "PAY-504")
    # Bianchi proposes a plan over two installments.
    on(16, "plan.proposed", "C-BIANCHI", {"plan_id": "PLN-1", "invoice_ids": ["INV-1003"], "installments": [
        {"due_date": due(30), "amount": "1200.00"}, {"due_date": due(45), "amount": "1200.00"}]}, "PLN-1")
    on(17, "plan.accepted", "C-BIANCHI", {"plan_id": "PLN-1"}, "PLN-1-acc")
    on(22, "payment.received", "C-BIANCHI", {"payment_id": "PAY-505", "amount": "1200.00", "currency": "EUR",
                                            "value_date": due(30), "invoice_refs": ["INV-1003"]}, "PAY-505")
    # A client mistake the gate catches: money as a JSON number.
    if len(business) > 5:
        bad = _event("payment.received", "C-MUELLER", business[5],
                     {"payment_id": "PAY-506", "amount": 4200.0, "currency": "EUR", "value_date": due(11)}, "PAY-506")
        by_date[business[5]].events.append(bad)

    for day in calendar:
        day.events.insert(0, _event("clock.tick", TENANT_CUSTOMERID, day.business_date,
                                    {"business_date": day.business_date.isoformat()}, f"tick-{day.business_date}"))
    return calendar
