"""Per-message processing: decode → deduplicate → handler in one transaction → DLQ.

``process`` never raises (but for cancellation): faust acks a message whose
agent raised, so an escaped exception would skip the message silently.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import exc as sa_exc

from softcollect_events import CloudEvent, DecodeError, decode

from . import metrics
from .dlq import DeadLetter, DeadLetters, RawMessage
from .logs import get_logger
from .uow import UnitOfWork

log = get_logger(__name__)

Handler = Callable[[CloudEvent, UnitOfWork[Any]], Awaitable[None]]


class TransientError(Exception):
    """Raised by a handler for a failure worth retrying (a dependency briefly unavailable)."""


class Outcome(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"  # bad client input, kept with its reasons (ingest)
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "08000", "08003", "08006"}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (TransientError, TimeoutError, ConnectionError, sa_exc.TimeoutError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError):
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code in _RETRYABLE_SQLSTATES
    return False


# Raw-bytes work on a batch of messages in one unit of work: one (event type, outcome) per message.
Intake = Callable[[list[RawMessage], UnitOfWork[Any]], Awaitable[list[tuple[str, Outcome]]]]


@runtime_checkable
class StagedIntake(Protocol):
    """An intake whose work before the database (decoding, checks) is a stage of its own, so a
    consumer can prepare the next poll's messages while the previous poll's transaction waits on
    the database. ``prepare`` must not touch the database; it yields to the event loop now and then."""

    async def __call__(self, msgs: list[RawMessage], uow: UnitOfWork[Any]) -> list[tuple[str, Outcome]]: ...

    async def prepare(self, msgs: list[RawMessage]) -> Any: ...

    async def apply(self, prepared: Any, uow: UnitOfWork[Any]) -> list[tuple[str, Outcome]]: ...


class MessageProcessor:
    """Runs each message's work in a unit of work with bounded retries; the rest goes to the DLQ.

    The default work is: decode, claim the event (idempotency), run the handler of its
    type. A service that must see raw bytes (ingest, which rejects rather than
    dead-letters bad client input) supplies an ``intake`` instead.
    """

    def __init__(
        self,
        service: str,
        handlers: Mapping[str, Handler],
        new_uow: Callable[[], UnitOfWork[Any]],
        dead_letters: DeadLetters,
        max_attempts: int = 4,
        backoff_seconds: float = 0.2,
        after_commit: Callable[[UnitOfWork[Any]], None] | None = None,
        intake: Intake | None = None,
    ) -> None:
        self.service = service
        self.handlers = dict(handlers)
        self._new_uow = new_uow
        self._dlq = dead_letters
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._after_commit = after_commit
        self._intake = intake
        self._processing_seconds = metrics.PROCESSING_SECONDS.labels(service)

    async def process(self, msg: RawMessage) -> Outcome:
        started = time.perf_counter()
        event_type = _header(msg, "ce_type") or "unknown"
        try:
            if self._intake is not None:
                intake = self._intake

                async def intake_one(uow: UnitOfWork[Any]) -> Outcome:
                    [(_, outcome)] = await intake([msg], uow)
                    return outcome

                return self._count(event_type, await self._attempts(msg, event_type, intake_one))
            try:
                event = decode(msg.value or b"")
            except DecodeError as err:
                await self._dlq.send(msg, DeadLetter(
                    kind="undecodable", error=str(err),
                    reasons=tuple({"path": r.path, "message": r.message} for r in err.reasons)))
                return self._count(event_type, Outcome.DEAD_LETTERED)
            event_type = event.type
            handler = self.handlers.get(event.type)
            if handler is None:
                return self._count(event_type, Outcome.IGNORED)

            async def work(uow: UnitOfWork[Any]) -> Outcome:
                if not await uow.claim(event):
                    return Outcome.DUPLICATE
                await handler(event, uow)
                return Outcome.APPLIED

            return self._count(event_type, await self._attempts(msg, event_type, work))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the runtime itself: still never let faust skip silently
            log.exception("unexpected failure processing message", topic=msg.topic, offset=msg.offset)
            await self._dlq.send(msg, DeadLetter(kind="handler_error", error=f"{type(exc).__name__}: {exc}",
                                                 event_type=event_type))
            return self._count(event_type, Outcome.DEAD_LETTERED)
        finally:
            self._processing_seconds.observe(time.perf_counter() - started)

    async def _attempts(self, msg: RawMessage, event_type: str,
                        work: Callable[[UnitOfWork[Any]], Awaitable[Outcome]]) -> Outcome:
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._new_uow() as uow:
                    outcome = await work(uow)
                    if outcome is Outcome.DUPLICATE:
                        return outcome  # rolled back: a duplicate leaves no trace
                    await uow.commit()
                if self._after_commit:
                    self._after_commit(uow)
                return outcome
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                transient = is_transient(exc)
                if transient and attempt < self._max_attempts:
                    metrics.RETRIES.labels(self.service, event_type).inc()
                    log.warning("transient failure; retrying", type=event_type, attempt=attempt, error=repr(exc))
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                if not transient:
                    log.exception("handler failed", type=event_type, topic=msg.topic, offset=msg.offset)
                await self._dlq.send(msg, DeadLetter(
                    kind="retries_exhausted" if transient else "handler_error",
                    error=f"{type(exc).__name__}: {exc}", event_type=event_type, attempts=attempt))
                return Outcome.DEAD_LETTERED

    async def prepare(self, msgs: list[RawMessage]) -> Any:
        """A staged intake's first stage for `process_batch(msgs, prepared)`; None otherwise.
        Never raises (but for cancellation): a failure leaves the work to `process_batch`."""
        if not isinstance(self._intake, StagedIntake) or len(msgs) <= 1:
            return None
        try:
            return await self._intake.prepare(msgs)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("preparing a batch failed; it will be processed without", size=len(msgs))
            return None

    async def process_batch(self, msgs: list[RawMessage], prepared: Any = None) -> list[Outcome]:
        """Many messages in ONE transaction — a commit per event was most of an event's cost.

        Any failure rolls the whole batch back and the messages are processed one by one,
        so a bad message is retried and dead-lettered alone and the others still commit.
        `prepared` is what `prepare(msgs)` gave, if it was called. Never raises (but for cancellation).
        """
        if len(msgs) <= 1:
            return [await self.process(m) for m in msgs]
        started = time.perf_counter()
        letters: list[tuple[RawMessage, DeadLetter]] = []
        try:
            async with self._new_uow() as uow:
                if prepared is not None and isinstance(self._intake, StagedIntake):
                    outcomes = await self._intake.apply(prepared, uow)
                elif self._intake is not None:
                    outcomes = await self._intake(msgs, uow)
                else:
                    outcomes = await self._handle_batch(msgs, uow, letters)
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("batch failed; processing its messages one by one", size=len(msgs), error=repr(exc))
            return [await self.process(m) for m in msgs]
        if self._after_commit:
            self._after_commit(uow)
        for msg, letter in letters:
            await self._dlq.send(msg, letter)
        self._processing_seconds.observe(time.perf_counter() - started)
        for (event_type, outcome), n in Counter(outcomes).items():
            self._count(event_type, outcome, n)
        return [o for _, o in outcomes]

    async def _handle_batch(self, msgs: list[RawMessage], uow: UnitOfWork[Any],
                            letters: list[tuple[RawMessage, DeadLetter]]) -> list[tuple[str, Outcome]]:
        results: list[tuple[str, Outcome] | None] = []
        handled: list[tuple[int, CloudEvent, Handler]] = []
        for msg in msgs:
            try:
                event = decode(msg.value or b"")
            except DecodeError as err:
                letters.append((msg, DeadLetter(kind="undecodable", error=str(err), reasons=tuple(
                    {"path": r.path, "message": r.message} for r in err.reasons))))
                results.append((_header(msg, "ce_type") or "unknown", Outcome.DEAD_LETTERED))
                continue
            handler = self.handlers.get(event.type)
            if handler is None:
                results.append((event.type, Outcome.IGNORED))
                continue
            handled.append((len(results), event, handler))
            results.append(None)
        claimed = await uow.claim_many([event for _, event, _ in handled])
        # A repository may load what the whole batch needs in one query (aging: the ledgers).
        if (prefetch := getattr(uow.repos, "prefetch", None)) is not None:
            await prefetch([event for (_, event, _), fresh in zip(handled, claimed, strict=True) if fresh])
        for (index, event, handler), fresh in zip(handled, claimed, strict=True):
            if fresh:
                await handler(event, uow)
            results[index] = (event.type, Outcome.APPLIED if fresh else Outcome.DUPLICATE)
        return [r for r in results if r is not None]

    def _count(self, event_type: str, outcome: Outcome, n: int = 1) -> Outcome:
        metrics.EVENTS.labels(self.service, event_type, outcome.value).inc(n)
        return outcome


def _header(msg: RawMessage, name: str) -> str | None:
    for k, v in msg.headers:
        if k == name:
            return v.decode("utf-8", "replace")
    return None
