"""Ingest's own Prometheus metrics."""

from prometheus_client import Counter

from softcollect_runtime.metrics import BatchHistogram

ACCEPTED = Counter("softcollect_ingest_accepted_total", "Inbound events forwarded.", ["tenant", "type"])
REJECTED = Counter("softcollect_ingest_rejected_total", "Inbound inputs rejected.", ["tenant", "type"])
DUPLICATES = Counter("softcollect_ingest_duplicates_total", "Inbound events already accepted.", ["tenant", "type"])
# observed a batch at a time: a call per event was a visible share of the intake
LATENCY = BatchHistogram(
    "softcollect_ingest_latency_seconds",
    "From the record's broker timestamp to its forwarding being committed.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_REQUESTS = Counter("softcollect_ingest_http_requests_total", "POST /v1/events by status.", ["status"])
