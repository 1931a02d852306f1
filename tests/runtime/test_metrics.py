"""`BatchHistogram` exposes exactly what prometheus_client's own Histogram does for the same values."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from softcollect_runtime.metrics import BatchHistogram

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# bounds themselves (`le` is inclusive), between them, zero, beyond the last
VALUES = [0.0, 0.005, 0.0051, 0.01, 0.3, 1, 1.0000001, 9.99, 10, 10.5, 3600.0, 0.02, 0.02]


def exposition(registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines()
            if line.startswith("probe_seconds") and "_created" not in line]


def test_batches_expose_what_one_by_one_observations_do():
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("probe_seconds", "A probe.", buckets=BUCKETS, registry=theirs)
    for value in VALUES:
        reference.observe(value)
    batched = BatchHistogram("probe_seconds", "A probe.", BUCKETS, registry=ours)
    batched.observe_many(VALUES[:5])
    batched.observe_many([])
    batched.observe_many(VALUES[5:])
    assert exposition(ours) == exposition(theirs)
    assert ours.get_sample_value("probe_seconds_bucket", {"le": "0.005"}) == 2
    assert ours.get_sample_value("probe_seconds_bucket", {"le": "+Inf"}) == len(VALUES)
    assert ours.get_sample_value("probe_seconds_count") == len(VALUES)
