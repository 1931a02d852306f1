"""The mail sender: takes the queued messages, re-checks each against the debtor's view as it
is now, renders it, sends it over SMTP and records the outcome.

**Delivery: at-least-once, on purpose.** A message goes through three steps:

1. one transaction re-checks it (`domain.confirm`), renders it and marks it `sending`
   with a lease (`next_attempt_at` = now + lease) and `attempts + 1`;
2. the SMTP attempt, outside any transaction;
3. one transaction marks it `sent` and writes its `reminder.sent` / `statement.sent` to
   the outbox — or, on failure, `reminder.failed` (with `retry_at` while attempts remain).

A crash between the server's acceptance (2) and the commit (3) leaves the message
`sending`; when its lease runs out it is sent again, with the same Message-ID, so the debtor
may see it twice (and threading mail clients fold the two). That window is the time from the
server's reply to the commit — measured by `softcollect_reminders_mail_commit_window_seconds`
— plus the SMTP exchange itself if the reply was lost. A lost reminder is the worse failure
for the client (the final notice is what makes a hand-over defensible), hence at-least-once
rather than at-most-once. Re-sends after a lease ran out are counted
(`softcollect_reminders_mail_resumed_total`).

Anything that arrived after the decision (payment, credit note, dispute, promise, plan, hold)
is in the view the re-check reads: a message whose items no longer call for it becomes a
`reminder.suppressed` with the rule that now stops it, and is never sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter, Histogram

from softcollect_events import CloudEvent, deterministic_id, new_event
from softcollect_runtime.db import utcnow
from softcollect_runtime.logs import get_logger
from softcollect_runtime.polling import poll_batches
from softcollect_runtime.uow import UnitOfWork

from . import domain
from .config import SenderSettings, Tenants
from .domain import Debtor, Outcome
from .handlers import SOURCE, event_time
from .mailer import Attachment, Mail, Mailer, MailError
from .render import Line, MessageContext, Section, TemplateError, Templates
from .statement import statement_csv
from .store import CANCELLED, FAILED, PENDING, SENDING, SENT, RemindersRepository, messages

log = get_logger(__name__)

MAILS = Counter("softcollect_reminders_mails_total", "Messages by final status of an attempt",
                ["tenant", "status"])
RESUMED = Counter("softcollect_reminders_mail_resumed_total",
                  "Messages sent again after a sender stopped between SMTP and its commit")
COMMIT_WINDOW = Histogram("softcollect_reminders_mail_commit_window_seconds",
                          "From the SMTP server's acceptance to the commit that records it (duplicate window)",
                          buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
SMTP_SECONDS = Histogram("softcollect_reminders_smtp_seconds", "One SMTP attempt, connect to reply")


class MailSender:
    def __init__(self, runtime: Any, tenants: Tenants, templates: Templates, mailer: Mailer,
                 settings: SenderSettings, lease_seconds: float = 120.0) -> None:
        self._runtime = runtime
        self._tenants = tenants
        self._templates = templates
        self._mailer = mailer
        self._settings = settings
        self._lease = dt.timedelta(seconds=lease_seconds)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await poll_batches(self.send_due, self._settings.batch_size, self._settings.poll_seconds, self._wake,
                           "mail sender")

    async def send_due(self) -> int:
        """Send every message whose attempt is due; the number taken."""
        async with self._runtime.engine.connect() as conn:
            keys = list(await conn.scalars(
                sa.select(messages.c.message_key)
                .where(messages.c.status.in_([PENDING, SENDING]), messages.c.next_attempt_at <= utcnow())
                .order_by(messages.c.next_attempt_at, messages.c.message_key).limit(self._settings.batch_size)))
        for key in keys:
            await self.send_one(key)
        return len(keys)

    async def send_one(self, key: str) -> None:
        prepared = await self._prepare(key)
        if prepared is None:
            return
        mail, row, confirmed = prepared
        started = time.perf_counter()
        try:
            await self._mailer.send(mail)
        except MailError as exc:
            SMTP_SECONDS.observe(time.perf_counter() - started)
            await self._failed(row, str(exc), exc.transient)
            return
        accepted = time.perf_counter()
        SMTP_SECONDS.observe(accepted - started)
        await self._sent(row, confirmed)
        COMMIT_WINDOW.observe(time.perf_counter() - accepted)

    # --- 1. re-check, render, lease ---------------------------------------------

    async def _prepare(self, key: str) -> tuple[Mail, Any, list[Outcome]] | None:
        async with self._uow() as uow:
            repo: RemindersRepository = uow.repos
            stmt = sa.select(messages).where(messages.c.message_key == key)
            if uow.conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            found = (await uow.conn.execute(stmt)).first()
            row = SimpleNamespace(**found._mapping) if found is not None else None
            if row is None or row.status not in (PENDING, SENDING) or _aware(row.next_attempt_at) > utcnow():
                return None  # another sender has it, or it is done
            if row.status == SENDING:
                RESUMED.inc()
                log.warning("mail resumed after an interrupted attempt", message=key, attempts=row.attempts)
            debtor = await repo.debtor(row.tenantid, row.customerid)
            config = self._tenants.config(row.tenantid)
            policy = self._tenants.policy(row.tenantid, debtor.contact.segment)
            planned = [Outcome(p["type"], p["data"], p.get("subject")) for p in row.planned]
            confirmed, dropped = domain.confirm(debtor, row.step, planned, row.business_date, policy)
            contact = await repo.contact(row.tenantid, row.customerid)
            if confirmed and not (contact and contact[1]):
                dropped += [_no_contact(row.step, o) for o in confirmed]
                confirmed = []
            if not confirmed:
                self._emit(uow, row, dropped, "dropped")
                await self._set(uow, key, status=CANCELLED, last_error="no longer called for")
                await uow.commit()
                MAILS.labels(row.tenantid, CANCELLED).inc()
                return None
            step = next((s for s in policy.steps if s.name == row.step), None)
            ctx = _context(debtor, config.name, contact[0], row, confirmed, bool(step and step.with_statement))
            try:
                rendered = self._templates.render(row.tenantid, row.template, ctx)
            except TemplateError as exc:
                self._emit_failed(uow, row, row.attempts + 1, f"template: {exc}", None)
                await self._set(uow, key, status=FAILED, attempts=row.attempts + 1, last_error=str(exc))
                await uow.commit()
                MAILS.labels(row.tenantid, FAILED).inc()
                return None
            attachments = (Attachment(*statement_csv(ctx)),) if ctx.statement_attached else ()
            mail = Mail(
                message_id=confirmed[0].data["message_id"],
                sender=config.reminders.sender or self._settings.default_sender,
                reply_to=config.reminders.reply_to, to=tuple(contact[1]), subject=rendered.subject,
                text=rendered.text, html=rendered.html, attachments=attachments,
                headers=(("X-Softcollect-Step", row.step), ("X-Softcollect-As-Of", row.business_date.isoformat()),
                         ("X-Softcollect-Reference", key)))
            await self._set(uow, key, status=SENDING, attempts=row.attempts + 1,
                            next_attempt_at=utcnow() + self._lease)
            await uow.commit()
            row.attempts += 1
            return mail, row, confirmed

    # --- 3. record ------------------------------------------------------------------

    async def _sent(self, row: Any, confirmed: list[Outcome]) -> None:
        async with self._uow() as uow:
            self._emit(uow, row, confirmed, "sent")
            await self._set(uow, row.message_key, status=SENT, sent_at=utcnow(), last_error=None)
            await uow.commit()
        MAILS.labels(row.tenantid, SENT).inc()
        self._runtime.relay.wake()

    async def _failed(self, row: Any, error: str, transient: bool) -> None:
        retry = transient and row.attempts < self._settings.max_attempts
        async with self._uow() as uow:
            if retry:
                delay = min(self._settings.max_backoff_seconds,
                            self._settings.backoff_seconds * 2 ** (row.attempts - 1))
                retry_at = utcnow() + dt.timedelta(seconds=delay)
                self._emit_failed(uow, row, row.attempts, error, retry_at)
                await self._set(uow, row.message_key, status=PENDING, next_attempt_at=retry_at, last_error=error)
            else:
                self._emit_failed(uow, row, row.attempts, error, None)
                await self._set(uow, row.message_key, status=FAILED, last_error=error)
            await uow.commit()
        MAILS.labels(row.tenantid, "retry" if retry else FAILED).inc()
        log.warning("mail attempt failed", message=row.message_key, attempt=row.attempts, error=error, retry=retry)
        self._runtime.relay.wake()

    # --- helpers --------------------------------------------------------------------

    def _uow(self) -> UnitOfWork[RemindersRepository]:
        return self._runtime.new_uow()

    async def _set(self, uow: UnitOfWork, key: str, **values: Any) -> None:
        await uow.conn.execute(sa.update(messages).where(messages.c.message_key == key)
                               .values(updated_at=utcnow(), **values))

    def _emit(self, uow: UnitOfWork, row: Any, outcomes: list[Outcome], salt: str) -> None:
        cause = CloudEvent.model_validate(row.cause)
        for n, out in enumerate(outcomes):
            uow.emit(new_event(out.type, out.data, source=SOURCE, tenantid=row.tenantid, customerid=row.customerid,
                               time=event_time(row.business_date), subject=out.subject, caused_by=cause,
                               id=deterministic_id(SOURCE, row.message_key, salt, str(n))))

    def _emit_failed(self, uow: UnitOfWork, row: Any, attempt: int, error: str, retry_at: dt.datetime | None) -> None:
        planned = row.planned[0]["data"]
        data: dict[str, Any] = {
            "reminder_id": planned.get("reminder_id") or planned.get("statement_id"),
            "step": row.step, "error": error[:500]}
        if retry_at is not None:
            data["retry_at"] = retry_at.isoformat()
        self._emit(uow, row, [Outcome("reminder.failed", data, None)], f"failed-{attempt}")


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _no_contact(step: str, out: Outcome) -> Outcome:
    ids = out.data["invoice_ids"]
    return Outcome("reminder.suppressed", {"step": step, "invoice_ids": ids, "reason": "no_contact"},
                   ids[0] if len(ids) == 1 else None)


def _context(debtor: Debtor, tenant_name: str, debtor_name: str, row: Any, confirmed: list[Outcome],
             statement: bool) -> MessageContext:
    sections = []
    for out in confirmed:
        currency = out.data["currency"]
        credits, unapplied = domain.on_account(debtor, currency)
        lines = tuple(
            Line(invoice_id=i.invoice_id, number=i.number, installment=i.installment, due_date=i.due_date,
                 days_past_due=i.days_past_due(row.business_date), open_amount=i.open_amount,
                 disputed_amount=i.disputed_amount)
            for i in domain.lines_of(debtor, out.data["invoice_ids"], currency))
        due = Decimal(out.data.get("amount_due") or out.data["open_amount"])
        sections.append(Section(currency=currency, lines=lines, credits=credits, unapplied=unapplied, amount_due=due))
    return MessageContext(
        tenant_name=tenant_name, debtor_name=debtor_name, language=debtor.contact.language, step=row.step,
        as_of=row.business_date, reference=row.message_key, sections=tuple(sections), locked=debtor.locked,
        statement_attached=statement)
