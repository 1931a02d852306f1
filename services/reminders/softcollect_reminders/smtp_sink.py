"""A local SMTP sink for ``softcollect stack up`` and the demo: accepts every message, stores it as a file.

Each message becomes ``<dir>/<UTC timestamp>-<sha1 of Message-ID>.eml`` (timestamp
``YYYYmmddTHHMMSS.ffffffZ``, strictly increasing within one sink so names sort in arrival order;
a message without a Message-ID is named by the sha1 of its content). Files are written
atomically (hidden temp file, fsync, rename), so a reader never sees half a message. The file
is the message exactly as received, preceded by the envelope as an MDA would record it: one
``Return-Path:`` and one ``X-Envelope-To:`` header per RCPT.

The sink runs on the caller's event loop (aiosmtpd's SMTP protocol on ``loop.create_server``,
no Controller thread)::

    sink = await start_sink(Path("mail"), port=0)   # port 0: pick a free port, see sink.port
    ...
    await sink.stop()
    messages = read_sink(Path("mail"))               # oldest first

Run standalone: ``python -m softcollect_reminders.smtp_sink --dir DIR [--host H] [--port P]``.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import hashlib
import os
import signal
import tempfile
import weakref
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["SmtpSink", "read_sink", "sink_files", "start_sink"]

_TIMESTAMP = "%Y%m%dT%H%M%S.%fZ"


class _StoreHandler:
    """aiosmtpd handler: every DATA is written to one `.eml` file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._last = datetime.min.replace(tzinfo=UTC)
        self.stored = 0

    def _next_timestamp(self) -> str:
        # Wall clock is right here (transport metadata); forced strictly increasing so names sort by arrival.
        now = datetime.now(UTC)
        if now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now
        return now.strftime(_TIMESTAMP)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content
        if content is None:
            content = envelope.content.encode() if isinstance(envelope.content, str) else (envelope.content or b"")
        message_id = BytesHeaderParser(policy=email.policy.default).parsebytes(content).get("Message-ID")
        key = str(message_id).strip().encode() if message_id else content
        name = f"{self._next_timestamp()}-{hashlib.sha1(key).hexdigest()}.eml"
        head = f"Return-Path: <{envelope.mail_from or ''}>\r\n".encode()
        head += b"".join(f"X-Envelope-To: {rcpt}\r\n".encode() for rcpt in envelope.rcpt_tos)
        await asyncio.to_thread(_write_atomically, self.directory / name, head + content)
        self.stored += 1
        return f"250 OK stored as {name}"


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SmtpSink:
    """An SMTP server on the running loop storing every message in `directory`.

    `port` 0 picks a free port; after `start()` the `port` attribute holds the bound one (when
    `host` resolves to several addresses with port 0, each gets its own port: `port` is the first).
    """

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 2525) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self._handler = _StoreHandler(self.directory)
        self._server: asyncio.Server | None = None
        self._connections: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def stored(self) -> int:
        """Messages stored since start."""
        return self._handler.stored

    def _protocol(self) -> SMTP:
        proto = SMTP(self._handler, hostname="softcollect-smtp-sink", ident="softcollect smtp sink",
                     enable_SMTPUTF8=True, loop=asyncio.get_running_loop())
        self._connections.add(proto)
        return proto

    async def start(self) -> SmtpSink:
        if self._server is not None:
            raise RuntimeError("the sink is already started")
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host=self.host, port=self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop open connections (a message not yet fully received is not stored)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for proto in list(self._connections):
            if proto.transport is not None:
                proto.transport.close()
        await server.wait_closed()

    # Server-like aliases, so a SmtpSink can stand where an asyncio Server handle is expected.
    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for proto in list(self._connections):
                if proto.transport is not None:
                    proto.transport.close()

    async def wait_closed(self) -> None:
        await self.stop()

    async def __aenter__(self) -> SmtpSink:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def start_sink(directory: Path, host: str = "127.0.0.1", port: int = 2525) -> SmtpSink:
    """Start a `SmtpSink` (creating `directory`) and return it; stop it with ``await sink.stop()``."""
    return await SmtpSink(directory, host, port).start()


def sink_files(directory: Path) -> list[Path]:
    """The stored `.eml` files, oldest first (temp files of writes in progress excluded)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.glob("*.eml") if not p.name.startswith(".")), key=lambda p: p.name)


def read_sink(directory: Path) -> list[EmailMessage]:
    """Every stored message, parsed (``email.policy.default``), oldest first; [] if `directory` does not exist."""
    parser = BytesParser(policy=email.policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sink_files(directory)]  # type: ignore[misc]


async def _serve(directory: Path, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sink = await start_sink(directory, host, port)
    print(f"smtp sink: listening on {sink.host}:{sink.port}, storing in {sink.directory}", flush=True)
    try:
        await stop.wait()
    finally:
        await sink.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softcollect_reminders.smtp_sink",
                                     description="Local SMTP sink: accepts every message and stores it as a .eml file.")
    parser.add_argument("--dir", required=True, type=Path, help="directory for the .eml files (created if missing)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2525, help="port to listen on, 0 = any free port (default 2525)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.dir, args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
