"""``softcollect``: the operator command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _stack(args: argparse.Namespace) -> int:
    from . import stack

    if args.action == "up":
        stack.up(db=args.db, kafka_port=args.kafka_port, partitions=args.partitions, smtp_port=args.smtp_port)
        return 0
    if args.action == "down":
        stack.down()
        return 0
    return stack.status()


def _demo(args: argparse.Namespace) -> int:
    from . import demo, stack

    # The demo tenant's clock only moves forward: each demo starts from a clean local stack.
    stack.reset()
    state = stack.up(db=args.db, kafka_port=args.kafka_port, smtp_port=args.smtp_port)
    return demo.play(state, days=args.days)


def _tenants(args: argparse.Namespace) -> int:
    from softcollect_runtime.tenants import TenantConfigError, load_tenants

    config_dir = Path(args.config_dir or os.environ.get("SOFTCOLLECT_CONFIG_DIR", "config"))
    try:
        tenants = load_tenants(config_dir)
    except TenantConfigError as err:
        print(err, file=sys.stderr)
        return 1
    try:  # the reminders section's policy keys are the reminders service's to check
        from softcollect_reminders.domain import PolicyError, parse_overrides
    except ImportError:
        parse_overrides = None
    for tid, t in tenants.items():
        if parse_overrides is None:
            break
        try:
            parse_overrides(t.reminders, root=f"{config_dir}/tenants/{tid}.yaml: reminders")
        except PolicyError as err:
            print(err, file=sys.stderr)
            return 1
    for tid, t in tenants.items():
        print(f"{tid}: {t.name} ({t.country}, {t.timezone}, {'simulated' if t.simulated else 'live'} clock)")
    return 0


SMTP_PORT_HELP = ("port of the local SMTP sink reminders sends to (mail kept in $SOFTCOLLECT_HOME/mail); "
                  "default: $SOFTCOLLECT_SMTP_PORT or 2525")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="softcollect", description="softcollect: event-driven soft collection")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stack", help="the local stack: Kafka, the database and every service")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite",
                   help="embedded SQLite files (default) or a local PostgreSQL server")
    p.add_argument("--kafka-port", type=int, default=9092)
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--smtp-port", type=int, default=None, help=SMTP_PORT_HELP)
    p.set_defaults(func=_stack)

    p = sub.add_parser("demo", help="bring the stack up and play the demo portfolio through it")
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--days", type=int, default=60, help="business days the demo clock advances")
    p.add_argument("--kafka-port", type=int, default=9092)
    p.add_argument("--smtp-port", type=int, default=None, help=SMTP_PORT_HELP)
    p.set_defaults(func=_demo)

    p = sub.add_parser("tenants", help="validate and list the tenant configuration")
    p.add_argument("--config-dir", help="default: $SOFTCOLLECT_CONFIG_DIR or config/")
    p.set_defaults(func=_tenants)

    from .ingest_commands import register  # import, rejected, apikey

    register(sub)
    from .aging_commands import register as register_aging  # aging report

    register_aging(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
