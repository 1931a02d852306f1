"""A test-only service on the real runtime: consumes ``payment.received`` from the payments
topic, records an effect row and emits ``payment.unmatched`` through the outbox.

Its behaviour is steered by the payment's ``method`` (``fail``: emit, then raise;
``transient``: keep raising a transient error) and by PROBE_CRASH_ON (a payment id
after whose DB commit the process dies before faust commits the offset).
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from softcollect_events import CloudEvent, Topic, deterministic_id, new_event
from softcollect_runtime.processing import TransientError
from softcollect_runtime.service import ServiceSpec, run
from softcollect_runtime.uow import UnitOfWork

metadata = sa.MetaData()
effects = sa.Table(
    "probe_effects", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenantid", sa.String(64), nullable=False),
    sa.Column("payment_id", sa.String(100), nullable=False),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
)


async def on_payment(event: CloudEvent, uow: UnitOfWork) -> None:
    data = event.data
    await uow.conn.execute(sa.insert(effects).values(
        tenantid=event.tenantid, payment_id=data.payment_id, amount=data.amount))
    uow.emit(new_event(
        "payment.unmatched",
        {"payment_id": data.payment_id, "amount": str(data.amount), "currency": data.currency, "reason": "probe"},
        source="softcollect/probe", tenantid=event.tenantid, customerid=event.customerid,
        time=event.time, subject=data.payment_id, caused_by=event,
        id=deterministic_id("probe", event.source, event.id),
    ))
    if data.method == "fail":
        raise ValueError(f"probe refused payment {data.payment_id}")
    if data.method == "transient":
        raise TransientError("probe dependency unavailable")


def after_commit(uow: UnitOfWork) -> None:
    marker = Path(os.environ.get("PROBE_CRASH_MARKER", "/nonexistent/marker"))
    for event in uow.claimed:
        if event.data.payment_id == os.environ.get("PROBE_CRASH_ON") and not marker.exists():
            marker.write_text(event.id)
            os._exit(70)  # dies between the DB commit and faust's offset commit


SPEC = ServiceSpec(
    name=os.environ.get("PROBE_NAME", "probe"),
    consumes=[Topic.payments],
    handlers={"payment.received": on_payment},
    metadata=metadata,
    after_commit=after_commit,
    default_web_port=6099,
)

if __name__ == "__main__":
    run(SPEC)
