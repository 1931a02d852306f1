"""The mail sender against real SMTP servers, with reminders as a real worker: a server down then
back (nothing lost, nothing sent twice), a permanent refusal, a payment that arrives between the
decision and the send, and a crash between the server's acceptance and the commit (the one
documented duplicate, same Message-ID, and still one `reminder.sent`)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from aiosmtpd.controller import Controller

from softcollect_events import new_event
from tests.reminders_service.support import TENANT, Services, SmtpServer
from tests.support import eventually, free_port

pytestmark = [pytest.mark.broker, pytest.mark.database]

DUE = dt.date(2025, 6, 11)  # Wednesday; the courtesy e-mail is due on Wednesday 2025-06-04
COURTESY = DUE - dt.timedelta(days=7)
FAST_RETRIES = {"SOFTCOLLECT_MAIL_BACKOFF_SECONDS": "0.2", "SOFTCOLLECT_MAIL_MAX_BACKOFF_SECONDS": "0.5",
                "SOFTCOLLECT_MAIL_MAX_ATTEMPTS": "100"}


async def one_debtor(services: Services, customer: str = "rossi") -> None:
    """What ingest and aging would have published for one debtor with one open invoice."""
    day = COURTESY - dt.timedelta(days=1)
    await services.tick(day)
    await services.send("customer.upserted", customer, {
        "name": "Rossi Arredi S.r.l.", "emails": ["amministrazione@rossi.example"], "language": "it"}, day)
    invoice = await services.send("invoice.issued", customer, {
        "invoice_id": "R1", "number": "2025/101", "issue_date": "2025-05-01", "due_date": DUE.isoformat(),
        "currency": "EUR", "amount": "1200.00"}, day)
    await services.send("receivable.opened", customer, {
        "invoice_id": "R1", "due_date": DUE.isoformat(), "currency": "EUR", "amount": "1200.00",
        "open_amount": "1200.00"}, day, source="softcollect/aging", caused_by=invoice)
    await eventually(lambda: services.debtor(customer).get("items") and services.debtor(customer)["contact"]
                     ["has_email"], timeout=60)


def status(services: Services) -> list[str]:
    return [r[0] for r in services.reminders_db.rows("SELECT status FROM messages")]


async def tick_no_wait(services: Services, day: dt.date) -> None:
    from softcollect_events import TENANT_CUSTOMERID
    await services.send("clock.tick", TENANT_CUSTOMERID, {"business_date": day.isoformat()}, day)
    await eventually(lambda: services.reminders_db.scalar("SELECT business_date FROM tenant_days") == day)


@pytest.fixture
def down_port():
    return free_port()  # nothing listens here until a test starts a server


async def test_server_down_then_back_nothing_lost_nothing_twice(tmp_path, pg_url, kafka_bootstrap, down_port):
    services = Services(tmp_path, pg_url, down_port, with_aging=False, mail_env=FAST_RETRIES).start()
    smtp = SmtpServer(tmp_path / "mail", down_port, tmp_path / "smtp.log")
    try:
        await one_debtor(services)
        await tick_no_wait(services, COURTESY)
        failed = await eventually(lambda: _failed(services, 3), timeout=60)
        assert all("retry_at" in e["data"] and e["data"]["step"] == "courtesy" for e in failed)
        assert "amministrazione@rossi.example" not in str(failed)  # errors never carry the address
        assert status(services) == ["pending"]

        smtp.start()
        await eventually(lambda: status(services) == ["sent"], timeout=60)
        mails = smtp.messages()
        assert len(mails) == 1 and mails[0]["X-Softcollect-Step"] == "courtesy"
        sent = await published(services, "reminder.sent")  # the outbox relay publishes after the commit
        assert len(sent) == 1 and sent[0]["data"]["message_id"] == mails[0]["Message-ID"]
        assert sent[0]["data"]["amount_due"] == "1200.00"
    finally:
        services.stop()
        smtp.stop()


async def published(services: Services, type_: str) -> list[dict]:
    """The events of `type_` once at least one is on the topic (the relay publishes after the commit)."""
    async def some() -> list[dict] | None:
        return await services.outcomes(type_) or None
    return await eventually(some, timeout=30)


async def _courtesy_suppressed(services: Services) -> list[dict] | None:
    found = [e for e in await services.outcomes("reminder.suppressed") if e["data"]["step"] == "courtesy"]
    return found or None


async def _failed(services: Services, n: int) -> list[dict] | None:
    failed = await services.outcomes("reminder.failed")
    return failed if len(failed) >= n else None


class Refusing:
    async def handle_DATA(self, server, session, envelope):
        return "550 5.1.1 mailbox unavailable"


async def test_permanent_refusal_is_failed_once_without_retry(tmp_path, pg_url, kafka_bootstrap):
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    services = Services(tmp_path, pg_url, port, with_aging=False, mail_env=FAST_RETRIES).start()
    try:
        await one_debtor(services)
        await tick_no_wait(services, COURTESY)
        await eventually(lambda: status(services) == ["failed"], timeout=60)
        [failed] = await published(services, "reminder.failed")
        assert "retry_at" not in failed["data"] and "550" in failed["data"]["error"]
        assert not await services.outcomes("reminder.sent")
    finally:
        services.stop()
        controller.stop()


async def test_a_payment_between_decision_and_send_stops_the_email(tmp_path, pg_url, kafka_bootstrap, down_port):
    services = Services(tmp_path, pg_url, down_port, with_aging=False, mail_env=FAST_RETRIES).start()
    smtp = SmtpServer(tmp_path / "mail", down_port, tmp_path / "smtp.log")
    try:
        await one_debtor(services)
        await tick_no_wait(services, COURTESY)
        await eventually(lambda: _failed(services, 1), timeout=60)  # decided, not sent: the server is down
        payment = new_event("payment.received", {
            "payment_id": "P1", "amount": "1200.00", "currency": "EUR", "value_date": COURTESY.isoformat(),
            "invoice_refs": ["2025/101"]}, source="erp/acme", tenantid=TENANT, customerid="rossi",
            time=dt.datetime.combine(COURTESY, dt.time(10), dt.UTC))
        for type_, data in [
            ("receivable.balance_changed", {"invoice_id": "R1", "currency": "EUR", "open_amount": "0.00",
                                            "cause": "payment.received"}),
            ("receivable.settled", {"invoice_id": "R1", "settled_on": COURTESY.isoformat(), "days_to_pay": -7}),
        ]:
            await services.send(type_, "rossi", data, COURTESY, source="softcollect/aging", caused_by=payment)
        await eventually(lambda: services.debtor("rossi")["items"][0]["phase"] == "settled", timeout=30)
        smtp.start()
        await eventually(lambda: status(services) == ["cancelled"], timeout=60)
        assert smtp.messages() == []
        assert not await services.outcomes("reminder.sent")
        suppressed = await eventually(lambda: _courtesy_suppressed(services), timeout=30)
        assert [e["data"]["reason"] for e in suppressed] == ["below_minimum"]  # nothing left to ask for
    finally:
        services.stop()
        smtp.stop()


class KillOnFirstData:
    """Stores every message; on the first one, kills the reminders worker before answering, so the
    message is delivered but the sender never learns it."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.worker = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope.content.decode("utf-8", "replace"))
            first = len(self.messages) == 1
        if first:
            self.worker.proc.kill()
            self.worker.proc.wait()
        return "250 OK"


async def test_crash_after_acceptance_sends_once_more_with_the_same_message_id(tmp_path, pg_url, kafka_bootstrap):
    port = free_port()
    handler = KillOnFirstData()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    services = Services(tmp_path, pg_url, port, with_aging=False,
                        mail_env={**FAST_RETRIES, "SOFTCOLLECT_MAIL_LEASE_SECONDS": "2"}).start()
    handler.worker = services.reminders
    try:
        await one_debtor(services)
        await tick_no_wait(services, COURTESY)
        await eventually(lambda: len(handler.messages) == 1 and services.reminders.proc.poll() is not None,
                         timeout=60)
        assert status(services) == ["sending"]  # accepted by the server, not recorded: the window
        services.reminders.start()  # the same worker again (same schema, same queue)
        await eventually(lambda: status(services) == ["sent"], timeout=60)
        ids = Counter(m.split("Message-ID: ", 1)[1].split("\n", 1)[0].strip() for m in handler.messages)
        assert len(handler.messages) == 2 and len(ids) == 1  # the documented duplicate, recognisable
        sent = await published(services, "reminder.sent")
        assert len(sent) == 1 and sent[0]["data"]["message_id"] == next(iter(ids))
    finally:
        services.stop()
        controller.stop()
