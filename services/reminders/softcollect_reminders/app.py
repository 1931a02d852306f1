"""The reminders service process: the consumer (views and decisions) and the mail sender."""

from __future__ import annotations

from pathlib import Path

import faust

from softcollect_events import Topic
from softcollect_runtime.service import Runtime, ServiceSpec

from .config import ReminderSettings, Tenants
from .handlers import make_handlers
from .mailer import Mailer
from .render import Templates
from .sender import MailSender
from .store import RemindersRepository

MIGRATIONS = Path(__file__).parent / "migrations"

# Call outcomes (`softcollect.activities`) reach reminders through what they cause: promises and
# plans via settlements, disputes via dispute-cases.
CONSUMES = [Topic.receivables, Topic.invoices, Topic.customers, Topic.clock, Topic.positions,
            Topic.dispute_cases, Topic.settlements]


def build(settings: ReminderSettings | None = None) -> tuple[ServiceSpec, ReminderSettings]:
    settings = settings or ReminderSettings()
    tenants = Tenants(settings)
    templates = Templates(settings.tenant_templates())
    for tenantid in tenants.configured():
        templates.check(tenantid)  # a bad tenant template stops the start, naming the file
    holder: dict[str, MailSender] = {}

    def configure(app: faust.App, runtime: Runtime) -> None:
        sender = MailSender(runtime, tenants, templates, Mailer(settings.smtp.smtp()), settings.mail,
                            lease_seconds=settings.mail.lease_seconds)
        holder["sender"] = sender

        @app.task
        async def mail_sender() -> None:
            await runtime.start()
            await sender.run()

    def after_commit(uow) -> None:  # a tick queued messages: send them now, not at the next poll
        if "sender" in holder and getattr(uow.repos, "queued", 0):
            holder["sender"].wake()

    spec = ServiceSpec(
        name="reminders",
        consumes=CONSUMES,
        handlers=make_handlers(tenants),
        migrations=MIGRATIONS,
        repos_factory=RemindersRepository,
        configure_app=configure,
        after_commit=after_commit,
        default_web_port=6063,
    )
    return spec, settings
