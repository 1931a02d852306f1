"""softcollect's own Prometheus metrics (faust's sensors add theirs on the same /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

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
