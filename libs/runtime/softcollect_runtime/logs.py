"""JSON logs (structlog) that never print a debtor's e-mail address or phone number.

The redaction runs on every record, ours and the libraries' (faust, aiokafka,
SQLAlchemy go through the same formatter), because contact data can hide in any
message, exception text or repr.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# International or national numbers of 8+ digits with the usual separators; ISO dates,
# amounts and Kafka offsets do not have this shape.
PHONE = re.compile(r"(?<![\w.\-/])\+?\d[\d ()./\-]{6,}\d(?![\w.])")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def redact(text: str) -> str:
    text = EMAIL.sub("[email]", text)
    return PHONE.sub(lambda m: m.group(0) if _looks_harmless(m.group(0)) else "[phone]", text)


def _looks_harmless(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    return bool(_DATE_LIKE.match(candidate)) or digits < 8


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


def redact_processor(_logger: Any, _name: str, event_dict: dict) -> dict:
    return {k: _redact_value(v) for k, v in event_dict.items()}


def configure(level: str = "INFO", fmt: str = "json", service: str | None = None, stream: Any = None) -> None:
    """Route structlog and stdlib logging through one redacting renderer on stderr."""
    shared: list = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    # faust and mode narrate every service start and stop at INFO; their warnings still show.
    for noisy in ("aiokafka", "faust", "mode", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
