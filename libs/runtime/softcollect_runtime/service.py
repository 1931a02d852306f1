"""A softcollect service process: a faust app wired to the runtime.

A service declares a ``ServiceSpec`` (what it consumes, its handlers, its
migrations) and calls ``run(spec)``; everything about delivery lives here.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import sqlalchemy as sa
from faust.app.base import BootStrategy
from faust.sensors.prometheus import setup_prometheus_sensors

from softcollect_events import Topic, all_topics, dlq_topic, topic_name

from . import logs, metrics
from .db import create_engine, create_tables, migrate, resolve_url
from .dlq import DeadLetters, RawMessage
from .kafka import ensure_topics, make_producer
from .outbox import OutboxRelay
from .pattern import consume_pattern
from .processing import Handler, Intake, MessageProcessor
from .settings import ServiceSettings
from .uow import UnitOfWork

log = logs.get_logger(__name__)

GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


@dataclass
class ServiceSpec:
    name: str
    consumes: list[Topic | str]
    handlers: Mapping[str, Handler]
    migrations: Path | None = None
    # Tests without migrations (runtime probes) create their tables from metadata instead.
    metadata: sa.MetaData | None = None
    repos_factory: Callable[[Any], Any] | None = None
    # Regex over topic names, for consumers of per-tenant topics (ingest's inbound).
    consume_pattern: str | None = None
    default_web_port: int = 6066
    after_commit: Callable[[UnitOfWork[Any]], None] | None = None
    # Raw-bytes work instead of decode+claim+handler (ingest); see MessageProcessor.
    intake: Callable[[Runtime], Intake] | None = None
    # Topics beyond the catalogue that must exist before consuming (ingest: each tenant's inbound).
    extra_topics: Callable[[], list[str]] | None = None
    # Extra pages, timers and tasks on the faust app (HTTP intake, clocks, sweeps).
    configure_app: Callable[[faust.App, Runtime], None] | None = None


class Runtime:
    """The per-process resources: engine, idempotent producer, outbox relay, processor."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.database_url = resolve_url(settings.database_url_for(spec.name), spec.name)
        self.engine = create_engine(self.database_url, settings.db_schema or spec.name)
        self._started = asyncio.Lock()
        self.ready = False
        self.producer = None
        self.relay: OutboxRelay | None = None
        self.processor: MessageProcessor | None = None
        self._relay_task: asyncio.Task | None = None

    def new_uow(self) -> UnitOfWork[Any]:
        return UnitOfWork(self.engine, self.settings.topic_prefix, self.spec.repos_factory)

    async def start(self) -> None:
        async with self._started:
            if self.ready:
                return
            self.producer = make_producer(self.settings.kafka, client_id=f"softcollect-{self.spec.name}")
            await self.producer.start()
            self.relay = OutboxRelay(self.engine, self.producer, self.spec.name,
                                     self.settings.outbox_batch_size, self.settings.outbox_poll_seconds)
            dead_letters = DeadLetters(self.producer, dlq_topic(self.spec.name, self.settings.topic_prefix),
                                       self.spec.name)

            def after_commit(uow: UnitOfWork[Any]) -> None:
                if uow.outbox_records:
                    self.relay.remember(uow.outbox_ids, uow.outbox_records)
                    self.relay.wake()
                if self.spec.after_commit:
                    self.spec.after_commit(uow)

            self.processor = MessageProcessor(
                self.spec.name, self.spec.handlers, self.new_uow, dead_letters,
                self.settings.max_attempts, self.settings.retry_backoff_seconds, after_commit,
                intake=self.spec.intake(self) if self.spec.intake else None)
            self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.spec.name}-outbox-relay")
            self.ready = True
            metrics.READY.labels(self.spec.name).set(1)

    async def stop(self) -> None:
        if self._relay_task:
            self._relay_task.cancel()
            await asyncio.gather(self._relay_task, return_exceptions=True)
        if self.producer:
            await self.producer.stop()
        await self.engine.dispose()
        metrics.READY.labels(self.spec.name).set(0)

    async def check(self) -> dict[str, str]:
        """Readiness: the database answers and the producer has a broker connection."""
        status = {"database": "ok", "kafka": "ok", "started": "ok" if self.ready else "starting"}
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            status["database"] = f"error: {type(exc).__name__}"
        if self.producer is None or not self.producer.client.cluster.brokers():
            status["kafka"] = "not connected"
        return status


def consumer_group(spec: ServiceSpec, settings: ServiceSettings) -> str:
    """The service's consumer group (and faust app id): one per service per topic namespace."""
    return f"{settings.topic_prefix}{spec.name}"


class _NoFaustConsumer(BootStrategy):
    enable_kafka_consumer = False  # the pattern consumer (aiokafka) does the consuming


class _PatternApp(faust.App):
    BootStrategy = _NoFaustConsumer


def create_app(spec: ServiceSpec, settings: ServiceSettings | None = None) -> tuple[faust.App, Runtime]:
    settings = settings or ServiceSettings()
    runtime = Runtime(spec, settings)
    kafka = settings.kafka
    credentials = None
    if kafka.sasl_mechanism:
        credentials = faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            ssl_context=kafka.ssl_context(), mechanism=kafka.sasl_mechanism)
    elif kafka.ssl_context():
        credentials = faust.SSLCredentials(kafka.ssl_context())
    datadir = settings.data_dir / "faust" / spec.name
    datadir.mkdir(parents=True, exist_ok=True)
    app = (_PatternApp if spec.consume_pattern else faust.App)(
        consumer_group(spec, settings),
        broker=[f"kafka://{s}" for s in kafka.bootstrap_servers.split(",")],
        broker_credentials=credentials,
        value_serializer="raw",
        key_serializer="raw",
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port or spec.default_web_port,
        web_in_thread=False,
        topic_allow_declare=False,  # topics come from the catalogue, never from a consumer
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_seconds,
        producer_acks=-1,
        table_cleanup_interval=3600,
        datadir=str(datadir),
    )
    setup_prometheus_sensors(app, name_prefix=f"faust_{spec.name}")

    if spec.consume_pattern:
        @app.task
        async def pattern_consumer():
            await consume_pattern(runtime, spec.consume_pattern, consumer_group(spec, settings))
    else:
        names = [topic_name(t, settings.topic_prefix) for t in spec.consumes]
        channel = app.topic(*names, value_serializer="raw", key_serializer="raw")

        @app.agent(channel, name=f"{spec.name}-consume")
        async def consume(stream):
            # Batches: one transaction for up to `batch_size` messages; faust acks them after.
            async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_seconds):
                await runtime.start()
                msgs = [RawMessage(e.message.topic, e.message.partition, e.message.offset, e.message.key,
                                   e.message.value, tuple(e.message.headers or ()), e.message.timestamp)
                        for e in events]
                # Shielded: a shutdown lets the batch in flight finish its transaction.
                await asyncio.shield(runtime.processor.process_batch(msgs))

    @app.task
    async def start_runtime():
        await runtime.start()

    @app.page("/health")
    async def health(web, request):
        return web.json({"status": "ok", "service": spec.name, "pid": os.getpid()})

    @app.page("/ready")
    async def ready(web, request):
        status = await runtime.check()
        ok = all(v == "ok" for v in status.values())
        return web.json({"status": "ready" if ok else "not ready", **status}, status=200 if ok else 503)

    if spec.configure_app:
        spec.configure_app(app, runtime)

    @app.service
    class RuntimeCloser(faust.Service):  # closes the runtime when the worker stops
        async def on_stop(self) -> None:
            await runtime.stop()

    return app, runtime


class _Worker(faust.Worker):
    def __init__(self, *args: Any, log_format: str = "json", service: str = "", **kwargs: Any) -> None:
        self._log_format = log_format
        self._service = service
        super().__init__(*args, **kwargs)

    def _setup_logging(self) -> None:  # our redacting JSON logs, not faust's colour console
        logs.configure(self.loglevel if isinstance(self.loglevel, str) else "INFO", self._log_format, self._service)


def prepare(spec: ServiceSpec, settings: ServiceSettings) -> None:
    """Before consuming: the schema at its newest migration, and the topic catalogue with the
    service's DLQ (brokers here refuse to auto-create topics, so a typo cannot invent one)."""
    url = resolve_url(settings.database_url_for(spec.name), spec.name)
    schema = settings.db_schema or spec.name
    if spec.migrations is not None:
        migrate(url, schema, spec.migrations)
    elif spec.metadata is not None:
        create_tables(url, schema, spec.metadata)
    topics = all_topics(settings.topic_prefix, [spec.name]) + (spec.extra_topics() if spec.extra_topics else [])
    asyncio.run(ensure_topics(settings.kafka, topics, settings.partitions))


def run(spec: ServiceSpec, settings: ServiceSettings | None = None) -> None:
    """Entry point of a service process: migrate, ensure topics, then consume until stopped."""
    settings = settings or ServiceSettings()
    logs.configure(settings.log_level, settings.log_format, spec.name)
    prepare(spec, settings)
    app, _ = create_app(spec, settings)
    # The modules, the app and its settings live as long as the process: keep them out of the
    # cyclic collector's scans, and collect young objects less often (a batch of decoded events
    # is young and alive until its commit, and each collection walked it again).
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    worker = _Worker(app, loglevel=settings.log_level, log_format=settings.log_format, service=spec.name)
    worker.execute_from_commandline()
