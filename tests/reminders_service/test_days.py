"""Four debtors of a simulated tenant played through 48 business-calendar days by aging and
reminders as real workers, on the real broker and PostgreSQL, with a real SMTP server.

The due date D is Wednesday 2025-06-11; ticks run every calendar day from D-20 to D+26.
- rossi (Italian) pays on D+4 (a Sunday): courtesy and due-date e-mails, nothing after;
- smith (English), two invoices, disputes one on D+6: later e-mails list only the other;
  the first reminder due Saturday D+3 goes on Monday D+5; the final notice due Sunday D+25 on D+26;
- keyacc (segment key_account): written contact up to day 0, then an account-manager review task;
- nomail (no e-mail address): a verify-contact task instead of the courtesy e-mail.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import urllib.request
from collections import Counter

import pytest

from softcollect_events import new_event
from tests.reminders_service.support import TENANT, Services, SmtpServer
from tests.support import eventually, free_port

pytestmark = [pytest.mark.broker, pytest.mark.database]

D = dt.date(2025, 6, 11)  # a Wednesday


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


CUSTOMERS = {
    "rossi": {"name": "Rossi Arredi S.r.l.", "emails": ["amministrazione@rossi.example"], "language": "it",
              "country": "IT"},
    "smith": {"name": "Smith & Sons Ltd", "emails": ["ap@smith.example"], "language": "en", "country": "IT"},
    "keyacc": {"name": "Grandi Clienti S.p.A.", "emails": ["ap@grandi.example"], "language": "it",
               "country": "IT", "segment": "key_account", "account_manager": "am-verdi"},
    "nomail": {"name": "Senza Posta S.n.c.", "language": "it", "country": "IT"},
}
INVOICES = [("rossi", "R1", "2025/101", "1200.00"), ("smith", "S1", "2025/201", "500.00"),
            ("smith", "S2", "2025/202", "700.00"), ("keyacc", "K1", "2025/301", "900.00"),
            ("nomail", "N1", "2025/401", "300.00")]


@pytest.fixture
def stack(tmp_path, pg_url, kafka_bootstrap):
    port = free_port()
    smtp = SmtpServer(tmp_path / "mail", port, tmp_path / "smtp.log").start()
    services = Services(tmp_path, pg_url, port).start()
    yield services, smtp
    services.stop()
    smtp.stop()


def mails_by(smtp: SmtpServer) -> dict[str, list[tuple[dt.date, str, object]]]:
    out: dict[str, list] = {}
    for msg in smtp.messages():
        out.setdefault(str(msg["To"]), []).append(
            (dt.date.fromisoformat(msg["X-Softcollect-As-Of"]), msg["X-Softcollect-Step"], msg))
    return out


def body(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.rsplit(" ", 1)[0] == name or ("{" not in name and line.startswith(name + "{")))


async def test_a_debtor_portfolio_through_48_days(stack, record_property):
    services, smtp = stack
    await services.tick(day(-20))
    for customer, data in CUSTOMERS.items():
        await services.send("customer.upserted", customer, data, day(-20))
    for customer, invoice_id, number, amount in INVOICES:
        await services.send("invoice.issued", customer, {
            "invoice_id": invoice_id, "number": number, "issue_date": day(-40).isoformat(),
            "due_date": D.isoformat(), "currency": "EUR", "amount": amount}, day(-20))
    await services.send("invoice.delivery_reported", "rossi", {"invoice_id": "R1", "status": "delivered"}, day(-20))
    await eventually(lambda: sum(len(services.debtor(c).get("items", [])) for c in CUSTOMERS) == 5
                     and services.debtor("rossi").get("deliveries", {}).get("R1", {}).get("status") == "delivered"
                     and services.debtor("smith").get("numbers", {}).get("S2") == "2025/202", timeout=60)

    for n in range(-19, 27):
        await services.tick(day(n))
        if n == 4:  # Sunday: rossi pays in full
            await services.send("payment.received", "rossi", {
                "payment_id": "P1", "amount": "1200.00", "currency": "EUR", "value_date": day(4).isoformat(),
                "invoice_refs": ["2025/101"]}, day(4))
            await eventually(lambda: services.debtor("rossi")["items"][0]["phase"] == "settled", timeout=30)
        if n == 6:  # smith disputes S1 (the disputes service's case, as it would publish it)
            raised = new_event("dispute.raised", {"dispute_id": "DSP-1", "invoice_id": "S1", "reason": "quality"},
                               source="erp/acme", tenantid=TENANT, customerid="smith",
                               time=dt.datetime.combine(day(6), dt.time(9), dt.UTC))
            await services.send("dispute.opened", "smith", {
                "dispute_id": "DSP-1", "invoice_id": "S1", "reason": "quality", "currency": "EUR",
                "amount": "500.00", "sla_due": day(16).isoformat()}, day(6), source="softcollect/disputes",
                caused_by=raised)
            await eventually(lambda: "DSP-1" in services.debtor("smith").get("disputes", {}), timeout=30)

    mails = mails_by(smtp)
    # once each: every Message-ID arrived exactly once
    ids = Counter(str(m["Message-ID"]) for m in smtp.messages())
    assert ids and max(ids.values()) == 1, ids

    rossi = mails.pop("amministrazione@rossi.example")
    assert [(d, s) for d, s, _ in rossi] == [(day(-7), "courtesy"), (day(0), "due_today")]
    assert all("Gentile" in body(m) or "Spett" in body(m) for _, _, m in rossi)
    assert "2025/101" in body(rossi[1][2])

    smith = mails.pop("ap@smith.example")
    assert [(d, s) for d, s, _ in smith] == [
        (day(-7), "courtesy"), (day(0), "due_today"), (day(5), "first_reminder"),  # Saturday D+3 -> Monday
        (day(12), "statement"), (day(15), "second_reminder"), (day(26), "final_notice")]
    for d, step, msg in smith:
        text = body(msg)
        assert "Dear" in text, step
        assert "2025/202" in text
        if d > day(6):  # after the dispute only the undisputed invoice is asked for
            assert "2025/201" not in text, (step, text)
        else:
            assert "2025/201" in text
    attachments = [a for a in smith[2][2].iter_attachments()]
    assert [a.get_filename() for a in attachments] == [f"statement-{day(5).isoformat()}.csv"]
    rows = list(csv.DictReader(io.StringIO(attachments[0].get_payload(decode=True).decode("utf-8-sig"))))
    assert {r["invoice_number"] for r in rows if r["invoice_number"]} == {"2025/201", "2025/202"}

    keyacc = mails.pop("ap@grandi.example")
    assert [(d, s) for d, s, _ in keyacc] == [(day(-7), "courtesy"), (day(0), "due_today")]
    assert mails == {}  # nomail got none, nobody else got any

    async def all_published() -> bool:  # the outbox relay publishes after each commit
        written = [e for e in await services.outcomes() if e["type"] in ("reminder.sent", "statement.sent")]
        return len(written) == 2 + 6 + 2
    await eventually(all_published, timeout=30)
    sent = await services.outcomes("reminder.sent")
    assert len(await services.outcomes("statement.sent")) == 1  # smith's statement step, D+12
    assert all(e["data"]["channel"] == "email" for e in sent)
    assert {e["data"]["language"] for e in sent if e["customerid"] == "smith"} == {"en"}
    assert {e["data"]["invoice_ids"][0] for e in sent if e["customerid"] == "smith" and e["time"] > "2025-06-17"} \
        == {"S2"}
    suppressed = await services.outcomes("reminder.suppressed")
    reasons = Counter((e["customerid"], e["data"]["reason"]) for e in suppressed)
    assert reasons[("smith", "disputed")] >= 1
    assert reasons[("smith", "non_business_day")] >= 2
    assert reasons[("keyacc", "key_account_approval")] >= 1
    assert reasons[("nomail", "no_contact")] >= 1
    tasks = await services.outcomes("task.created")
    kinds = {(e["customerid"], e["data"]["kind"]) for e in tasks}
    assert ("nomail", "verify_contact") in kinds
    assert ("keyacc", "account_manager_review") in kinds
    review = next(e for e in tasks if e["data"]["kind"] == "account_manager_review")
    assert review["data"]["assignee"] == "am-verdi"
    assert ("smith", "phone_call") in kinds  # second_call, D+20
    assert not any(e["customerid"] == "rossi" for e in tasks)  # paid: nothing after D+4
    # the duplicate window of a crash (sender.py): SMTP acceptance -> commit, measured per message
    url = services.reminders.url
    window_count = metric(url, "softcollect_reminders_mail_commit_window_seconds_count")
    window_sum = metric(url, "softcollect_reminders_mail_commit_window_seconds_sum")
    assert window_count == 10
    record_property("mail_commit_window_mean_ms", round(1000 * window_sum / window_count, 2))
    print(f"mail commit window: mean {1000 * window_sum / window_count:.2f} ms over {window_count:.0f} messages")
    assert metric(url, 'softcollect_reminders_mails_total{status="sent",tenant="acme"}') == 10

    resubmissions = await services.outcomes("invoice.resubmission_requested")
    assert sorted(e["data"]["invoice_id"] for e in resubmissions) == ["K1", "N1", "S1", "S2"]  # R1 was delivered
