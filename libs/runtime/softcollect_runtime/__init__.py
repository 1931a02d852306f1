"""The service runtime every softcollect service stands on.

A service supplies its handlers (one per consumed event type) and its SQLAlchemy
tables; the runtime supplies delivery: decode, deduplicate, one transaction per
event (effect + processed-event row + outbox rows), bounded retries, the DLQ,
the outbox relay, health, metrics and logs.
"""
