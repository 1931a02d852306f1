"""The reminders e-mail adapter against real aiosmtpd servers on free ports, and the local SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import pickle
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from softcollect_reminders.mailer import (
    Attachment,
    Mail,
    Mailer,
    MailError,
    SmtpSettings,
    build_message,
)
from softcollect_reminders.smtp_sink import SmtpSink, read_sink, sink_files, start_sink

SUBJECT = "Promemoria di pagamento – fattura n° 12"
CSV = b"fattura;scadenza;importo\r\n12;2024-06-12;1.234,56 \xe2\x82\xac\r\n"  # UTF-8 euro sign
ALICE = "alice.debtor@cliente.example"
BOB = "bob.debtor@cliente.example"


def mail(message_id: str = "<rem-12-first@softcollect>", to: tuple[str, ...] = (f"Alice Debitrice <{ALICE}>",),
         **kw) -> Mail:
    defaults = dict(
        message_id=message_id,
        sender="Demo Forniture S.r.l. <crediti@demo.example>",
        to=to,
        subject=SUBJECT,
        text="Gentile cliente,\nla fattura n° 12 è scaduta il 12/06/2024.\n",
        html="<p>Gentile cliente,<br>la fattura n° 12 è scaduta il 12/06/2024.</p>",
        attachments=(Attachment("estratto-conto.csv", "text/csv", CSV),),
        reply_to="Ufficio crediti <crediti@demo.example>",
        headers=(("X-Softcollect-Step", "first_reminder"), ("X-Softcollect-Reminder", "rem-12")),
    )
    defaults.update(kw)
    return Mail(**defaults)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_no_recipient(err: MailError, *addresses: str) -> None:
    text = f"{err} {err!r} {err.args}"
    for addr in (ALICE, BOB, "Alice Debitrice", *addresses):
        assert addr.lower() not in text.lower(), text


async def within(coro, seconds: float = 5.0):
    """Await `coro` under a deadline: a hang fails the test instead of stalling the suite."""
    return await asyncio.wait_for(coro, seconds)


# --------------------------------------------------------------------------- test servers


class Recorder:
    """aiosmtpd handler that records what it accepts; can refuse recipients or answer DATA with an error."""

    def __init__(self, data_reply: str | None = None, refuse: dict[str, str] | None = None) -> None:
        self.data_reply = data_reply
        self.refuse = refuse or {}
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.tls: list[bool] = []
        self.auth: list[bool] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address].format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.messages.append(BytesParser(policy=email.policy.default).parsebytes(envelope.original_content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.tls.append(server.transport.get_extra_info("ssl_object") is not None)
        self.auth.append(bool(session.authenticated))
        return "250 2.0.0 OK queued as 4711"


@contextlib.asynccontextmanager
async def smtp_server(handler: object, *, ssl_context: ssl.SSLContext | None = None, **smtp_kw) -> AsyncIterator[int]:
    """An aiosmtpd SMTP server on this loop, on a free port; yields the port."""
    loop = asyncio.get_running_loop()
    protocols: list[SMTP] = []

    def factory() -> SMTP:
        proto = SMTP(handler, hostname="test-smtp", loop=loop, **smtp_kw)
        protocols.append(proto)
        return proto

    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for proto in protocols:
            if proto.transport is not None:
                proto.transport.close()
        await server.wait_closed()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for localhost / 127.0.0.1: (cert file, key file)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )
    return str(cert), str(key)


@pytest.fixture
def server_tls(certificate) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*certificate)
    return ctx


def settings(port: int, **kw) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, timeout=kw.pop("timeout", 5.0), **kw)


# --------------------------------------------------------------------------- the message


def test_build_message_structure():
    msg = build_message(mail())
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_filename() == "estratto-conto.csv"
    assert msg["Date"] and msg["MIME-Version"] == "1.0"
    assert all(p["MIME-Version"] is None for p in msg.walk() if p is not msg)
    assert build_message(mail(html=None, attachments=())).get_content_type() == "text/plain"
    assert build_message(mail(attachments=())).get_content_type() == "multipart/alternative"


@pytest.mark.parametrize("bad", [
    dict(to=()),
    dict(to=("not an address",)),
    dict(message_id="rem-12"),
    dict(subject="two\nlines"),
    dict(headers=(("Subject", "override"),)),
    dict(headers=(("X-Bad", "a\r\nBcc: evil@example.org"),)),
    dict(attachments=(Attachment("a.csv", "csv", b""),)),
])
def test_build_message_rejects(bad):
    with pytest.raises(ValueError):
        build_message(mail(**bad))


# --------------------------------------------------------------------------- plain send


async def test_plain_send_delivers_everything():
    rec = Recorder()
    async with smtp_server(rec) as port:
        result = await within(Mailer(settings(port)).send(mail()))
    assert (result.accepted, result.refused) == (1, 0)
    assert "4711" in result.reply
    assert len(rec.messages) == 1
    msg = rec.messages[0]
    assert rec.envelopes == [("crediti@demo.example", [ALICE])]
    assert msg["Message-ID"] == "<rem-12-first@softcollect>"
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].addr_spec == "crediti@demo.example"
    assert msg["From"].addresses[0].display_name == "Demo Forniture S.r.l."
    assert [a.addr_spec for a in msg["To"].addresses] == [ALICE]
    assert msg["Reply-To"].addresses[0].addr_spec == "crediti@demo.example"
    assert msg["X-Softcollect-Step"] == "first_reminder"
    assert msg["X-Softcollect-Reminder"] == "rem-12"
    # the wire has CRLF line ends, which the email package keeps in decoded content
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == mail().text
    assert msg.get_body(("html",)).get_content().strip() == mail().html
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "estratto-conto.csv"
    assert att.get_content_type() == "text/csv"
    assert att.get_payload(decode=True) == CSV


async def test_bad_address_is_permanent_and_not_echoed():
    with pytest.raises(MailError) as info:
        await within(Mailer(settings(free_port())).send(mail(to=("Alice Debitrice <alice.debtor@@cliente>",))))
    assert info.value.transient is False and info.value.kind == "message"
    assert_no_recipient(info.value, "alice.debtor@@cliente")


# --------------------------------------------------------------------------- AUTH


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"crediti", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535 itself


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_auth():
    rec = Recorder()
    async with smtp_server(rec, authenticator=authenticator, auth_required=True, auth_require_tls=False) as port:
        await within(Mailer(settings(port, username="crediti", password="s3cret")).send(mail()))
        assert rec.auth == [True]

        with pytest.raises(MailError) as wrong:
            await within(Mailer(settings(port, username="crediti", password="wrong")).send(mail()))
        assert wrong.value.transient is False and wrong.value.kind == "auth" and wrong.value.code == 535
        assert "wrong" not in str(wrong.value)

        with pytest.raises(MailError) as anonymous:  # no credentials: 530 at MAIL FROM
            await within(Mailer(settings(port)).send(mail()))
        assert anonymous.value.transient is False and anonymous.value.code == 530
    assert len(rec.messages) == 1


# --------------------------------------------------------------------------- TLS


async def test_starttls(certificate, server_tls):
    rec = Recorder()
    async with smtp_server(rec, tls_context=server_tls, require_starttls=True) as port:
        await within(Mailer(settings(port, security="starttls", ca_file=certificate[0])).send(mail()))
        assert rec.tls == [True]

        with pytest.raises(MailError) as untrusted:  # the self-signed certificate without its CA
            await within(Mailer(settings(port, security="starttls")).send(mail()))
        assert untrusted.value.transient is False and untrusted.value.kind == "tls"

        # validate_certs=False accepts it (for a local relay only)
        await within(Mailer(settings(port, security="starttls", validate_certs=False)).send(mail()))
    assert len(rec.messages) == 2


async def test_starttls_required_but_not_offered_is_permanent(certificate):
    rec = Recorder()
    async with smtp_server(rec) as port:
        with pytest.raises(MailError) as info:
            await within(Mailer(settings(port, security="starttls", ca_file=certificate[0])).send(mail()))
    assert info.value.transient is False and info.value.kind == "tls"
    assert rec.messages == []  # never falls back to plain text


async def test_implicit_tls(certificate, server_tls):
    rec = Recorder()
    async with smtp_server(rec, ssl_context=server_tls) as port:
        await within(Mailer(settings(port, security="tls", ca_file=certificate[0])).send(mail()))
    assert rec.tls == [True]


# --------------------------------------------------------------------------- failures


async def test_server_down_is_transient_and_redacted():
    started = asyncio.get_running_loop().time()
    with pytest.raises(MailError) as info:
        await within(Mailer(settings(free_port())).send(mail(to=(f"Alice Debitrice <{ALICE}>", BOB))))
    assert info.value.transient is True and info.value.kind == "connection"
    assert asyncio.get_running_loop().time() - started < 5
    assert_no_recipient(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    copy = pickle.loads(pickle.dumps(info.value))  # survives a process boundary with its classification
    assert (str(copy), copy.transient, copy.kind) == (str(info.value), True, "connection")


async def test_4xx_data_reply_is_transient():
    async with smtp_server(Recorder(data_reply="451 4.3.0 try later")) as port:
        with pytest.raises(MailError) as info:
            await within(Mailer(settings(port)).send(mail()))
    assert info.value.transient is True and info.value.code == 451 and info.value.kind == "data"
    assert "try later" in str(info.value)


async def test_5xx_data_reply_is_permanent():
    async with smtp_server(Recorder(data_reply=f"550 5.1.1 <{ALICE}>: mailbox unavailable")) as port:
        with pytest.raises(MailError) as info:
            await within(Mailer(settings(port)).send(mail()))
    assert info.value.transient is False and info.value.code == 550
    assert "mailbox unavailable" in str(info.value)
    assert_no_recipient(info.value)


async def test_one_of_two_recipients_refused_still_sends(caplog):
    rec = Recorder(refuse={BOB: "550 5.1.1 <{address}>: mailbox unavailable"})
    async with smtp_server(rec) as port:
        with caplog.at_level("WARNING", logger="softcollect_reminders.mailer"):
            result = await within(Mailer(settings(port)).send(mail(to=(f"Alice Debitrice <{ALICE}>", BOB))))
    assert (result.accepted, result.refused, result.refused_codes) == (1, 1, (550,))
    assert rec.envelopes == [("crediti@demo.example", [ALICE])]
    assert "1 refused" in caplog.text and BOB not in caplog.text and ALICE not in caplog.text


@pytest.mark.parametrize(("reply", "transient"), [
    ("550 5.1.1 <{address}>: mailbox unavailable", False),
    ("450 4.2.0 <{address}>: greylisted, try again later", True),
])
async def test_all_recipients_refused(reply, transient):
    rec = Recorder(refuse={ALICE: reply, BOB: reply})
    async with smtp_server(rec) as port:
        with pytest.raises(MailError) as info:
            await within(Mailer(settings(port)).send(mail(to=(ALICE, BOB))))
    assert info.value.transient is transient and info.value.kind == "recipients"
    assert "all 2 recipient(s) refused" in str(info.value)
    assert_no_recipient(info.value)


async def test_silent_server_times_out_as_transient():
    release = asyncio.Event()
    connected = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await release.wait()
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(MailError) as info:
            await within(Mailer(settings(port, timeout=0.5)).send(mail()))
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        release.set()
        server.close()
        await server.wait_closed()
    assert connected.is_set()
    assert info.value.transient is True and info.value.kind == "timeout"
    assert elapsed < 3


# --------------------------------------------------------------------------- the sink


async def test_sink_stores_and_reads_back_in_order(tmp_path: Path):
    directory = tmp_path / "mail"
    sink = await start_sink(directory, port=0)
    try:
        assert sink.port != 0
        mailer = Mailer(settings(sink.port))
        await within(mailer.send(mail("<rem-1@softcollect>")))
        await within(mailer.send(mail("<rem-2@softcollect>", to=(ALICE, BOB), attachments=())))
        assert sink.stored == 2
    finally:
        await sink.stop()

    messages = read_sink(directory)
    assert [m["Message-ID"] for m in messages] == ["<rem-1@softcollect>", "<rem-2@softcollect>"]
    assert [m["X-Envelope-To"] for m in messages] == [ALICE, ALICE]
    assert messages[1].get_all("X-Envelope-To") == [ALICE, BOB]
    assert messages[0]["Return-Path"] == "<crediti@demo.example>"
    assert messages[0]["Subject"] == SUBJECT
    (att,) = list(messages[0].iter_attachments())
    assert att.get_payload(decode=True) == CSV

    files = sink_files(directory)
    assert [p.name for p in sorted(directory.iterdir())] == [p.name for p in files]  # no temp files left
    for path in files:
        stamp, digest = path.stem.split("-")
        assert stamp.endswith("Z") and len(digest) == 40
        raw = path.read_bytes()
        assert raw.rstrip().endswith(b"--")  # the closing MIME boundary: the whole message is there
        assert not BytesParser(policy=email.policy.default).parsebytes(raw).defects


async def test_sink_handle_and_empty_dir(tmp_path: Path):
    assert read_sink(tmp_path / "missing") == []
    async with SmtpSink(tmp_path / "m", port=0) as sink:
        await within(Mailer(settings(sink.port)).send(mail(html=None, attachments=())))
    sink.close()
    await sink.wait_closed()
    (msg,) = read_sink(tmp_path / "m")
    assert msg.get_content_type() == "text/plain"


async def test_sink_command_line(tmp_path: Path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "softcollect_reminders.smtp_sink", "--dir", str(tmp_path / "cli"), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = (await within(proc.stdout.readline(), 15)).decode()
        assert line.startswith("smtp sink: listening on 127.0.0.1:"), line
        assert line.rstrip().endswith(f"storing in {tmp_path / 'cli'}")
        port = int(line.split("127.0.0.1:")[1].split(",")[0])
        await within(Mailer(settings(port)).send(mail()))
        proc.send_signal(signal.SIGTERM)
        assert await within(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert [m["Message-ID"] for m in read_sink(tmp_path / "cli")] == ["<rem-12-first@softcollect>"]
