"""Logical topics and their Kafka names (CONTRACT.md section 2)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from .scalars import PARTITION_ID_PATTERN

DEFAULT_PREFIX = "softcollect."


class Topic(StrEnum):
    """Logical topic. Each has exactly one writer; `inbound` is per tenant."""

    inbound = "inbound"
    invoices = "invoices"
    payments = "payments"
    disputes = "disputes"
    customers = "customers"
    activities = "activities"
    clock = "clock"
    rejected = "rejected"
    receivables = "receivables"
    positions = "positions"
    snapshots = "snapshots"
    reminders = "reminders"
    dispute_cases = "dispute-cases"
    settlements = "settlements"


# writer of each topic, for docs and ACLs
WRITERS: dict[Topic, str] = {
    Topic.inbound: "client",
    Topic.invoices: "ingest",
    Topic.payments: "ingest",
    Topic.disputes: "ingest",
    Topic.customers: "ingest",
    Topic.activities: "ingest",
    Topic.clock: "ingest",
    Topic.rejected: "ingest",
    Topic.receivables: "aging",
    Topic.positions: "aging",
    Topic.snapshots: "aging",
    Topic.reminders: "reminders",
    Topic.dispute_cases: "disputes",
    Topic.settlements: "settlements",
}


def as_topic(topic: Topic | str) -> Topic:
    """Accept a Topic, its value ("dispute-cases") or its name ("dispute_cases")."""
    if isinstance(topic, Topic):
        return topic
    try:
        return Topic(topic)
    except ValueError:
        if topic in Topic.__members__:
            return Topic[topic]
        raise ValueError(f"unknown topic {topic!r}") from None


def topic_name(topic: Topic | str, prefix: str = DEFAULT_PREFIX, tenantid: str | None = None) -> str:
    """Kafka topic name: `softcollect.invoices`, or `softcollect.inbound.<tenantid>`."""
    logical = as_topic(topic)
    if logical is Topic.inbound:
        if not tenantid or not re.fullmatch(PARTITION_ID_PATTERN, tenantid):
            raise ValueError(f"the inbound topic is per tenant: pass a valid tenantid, got {tenantid!r}")
        return f"{prefix}inbound.{tenantid}"
    return f"{prefix}{logical.value}"


def dlq_topic(service: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Dead-letter topic of a service: `softcollect.<service>.dlq`."""
    if not service:
        raise ValueError("service must be non-empty")
    return f"{prefix}{service}.dlq"


def all_topics(prefix: str = DEFAULT_PREFIX, services: Iterable[str] = (), tenantids: Iterable[str] = ()) -> list[str]:
    """Every shared topic, plus the DLQ of each service and the inbound topic
    of each tenant given, sorted (for provisioning)."""
    names = {topic_name(t, prefix) for t in Topic if t is not Topic.inbound}
    names.update(dlq_topic(s, prefix) for s in services)
    names.update(topic_name(Topic.inbound, prefix, t) for t in tenantids)
    return sorted(names)
