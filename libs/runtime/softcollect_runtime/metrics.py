"""softcollect's own Prometheus metrics (faust's sensors add theirs on the same /metrics)."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString


class BatchHistogram:
    """An unlabelled Prometheus histogram fed a batch of observations at a time, exposed like
    prometheus_client's own (`_bucket{le=…}`, `_sum`, `_count`). Its `Histogram.observe` takes one
    value per call, two locked increments each: ~3 µs per event on ingest's hot path, against
    well under 1 µs here. A custom collector is prometheus_client's way to expose such a metric."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float],
                 registry: CollectorRegistry | None = REGISTRY) -> None:
        self._name, self._documentation = name, documentation
        self._bounds = [float(b) for b in buckets if float(b) != float("inf")] + [float("inf")]
        self._counts = [0] * len(self._bounds)  # per bucket, not cumulative
        self._sum = 0.0
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        bounds, counts, total = self._bounds, [0] * len(self._bounds), 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1  # the first bound >= value: Prometheus' `le`
            total += value
        with self._lock:
            for i, n in enumerate(counts):
                self._counts[i] += n
            self._sum += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, buckets = 0, []
        for bound, n in zip(self._bounds, counts, strict=True):
            cumulative += n
            buckets.append((floatToGoString(bound), cumulative))
        yield HistogramMetricFamily(self._name, self._documentation, buckets=buckets, sum_value=total)

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(self._name, self._documentation)

EVENTS = Counter(
    "softcollect_events_total",
    "Consumed messages by service, event type and outcome (applied, duplicate, ignored, dead_lettered).",
    ["service", "type", "outcome"],
)
RETRIES = Counter("softcollect_retries_total", "Transient failures retried.", ["service", "type"])
DEAD_LETTERS = Counter("softcollect_dead_letters_total", "Messages sent to the DLQ, by reason kind.",
                       ["service", "kind"])
PROCESSING_SECONDS = Histogram(
    "softcollect_processing_seconds",
    "Time of one unit of work, decode to commit: a message, or a batch of messages in one transaction.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_PUBLISHED = Counter("softcollect_outbox_published_total", "Outbox records published.", ["service"])
OUTBOX_PENDING = Gauge("softcollect_outbox_pending", "Outbox records still waiting after the last relay pass.",
                       ["service"])
READY = Gauge("softcollect_ready", "1 when the service is ready (database and broker reachable).", ["service"])
