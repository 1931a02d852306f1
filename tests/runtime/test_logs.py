"""Logs never print a debtor's e-mail address or phone number, whoever logs it."""

import io
import json
import logging

import pytest
import structlog

from softcollect_runtime import logs


@pytest.fixture
def captured():
    stream = io.StringIO()
    logs.configure("INFO", "json", service="test", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()
    structlog.contextvars.clear_contextvars()


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_fields_and_messages_are_redacted(captured):
    logs.get_logger("t").info("sent to anna.rossi@example.it", phone="+39 02 1234 5678",
                              nested={"to": ["b@example.com"]}, invoice="INV-2026-000123", as_of="2026-12-04")
    [rec] = lines(captured)
    text = json.dumps(rec)
    assert "example.it" not in text and "b@example.com" not in text and "1234 5678" not in text
    assert rec["phone"] == "[phone]"
    assert rec["invoice"] == "INV-2026-000123" and rec["as_of"] == "2026-12-04"
    assert rec["service"] == "test"


def test_library_logs_through_stdlib_are_redacted_too(captured):
    logging.getLogger("aiokafka.fake").warning("bounce from mario@azienda.it, call 333 123 4567")
    [rec] = lines(captured)
    assert "azienda.it" not in rec["event"] and "123 4567" not in rec["event"]
    assert "[email]" in rec["event"] and "[phone]" in rec["event"]
