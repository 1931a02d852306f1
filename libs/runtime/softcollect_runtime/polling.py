"""A background worker's loop: do a batch of work, and when the batch was not full wait for a
wake-up or the poll interval; on an error (database or broker away) back off and try again.
Used by the outbox relay and by services' own senders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .logs import get_logger

log = get_logger(__name__)


async def poll_batches(step: Callable[[], Awaitable[int]], batch_size: int, poll_seconds: float,
                       wake: asyncio.Event, what: str) -> None:
    """Run `step` (returns how many items it handled) until cancelled."""
    failures = 0
    while True:
        try:
            handled = await step()
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the work stays where it is: try again, later and later
            failures += 1
            log.warning(f"{what} failed", error=repr(exc), attempt=failures)
            await asyncio.sleep(min(30.0, poll_seconds * 2 ** min(failures, 6)))
            continue
        if handled < batch_size:
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), poll_seconds)
            except TimeoutError:
                pass
