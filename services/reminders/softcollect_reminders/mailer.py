"""The reminders service's e-mail adapter: builds one MIME message and makes ONE delivery attempt.

Retries, backoff and persistence belong to the service's sender loop; this module only tells it
whether a failure is worth retrying (`MailError.transient`) and what kind of failure it was
(`MailError.kind`: relay-level kinds such as ``auth``/``tls``/``connection`` are the relay's or the
configuration's fault, message-level kinds such as ``recipients``/``address``/``message`` are the
mail's).

Privacy: recipients are debtors' personal data. No error text produced here contains a
recipient's address or name: server replies and library messages are redacted (every
``local@domain`` token is replaced), and `MailError` is raised ``from None`` so a logged
traceback does not carry the unredacted library exception either.

Classification (``transient`` / ``kind``):

* connection refused, reset, lost, DNS failure (``OSError``), server disconnected → transient ``connection``
* connect/greeting/command timeout → transient ``timeout``
* any SMTP reply 4xx (greeting 421, MAIL 451, DATA 451, …) → transient; 5xx → permanent.
  ``kind`` says where: ``greeting``, ``sender`` (MAIL FROM), ``data``, ``smtp`` (other commands)
* all recipients refused → ``recipients``; transient only if *every* refusal is 4xx
  (greylisting answers 450/451 at RCPT), otherwise permanent
* some recipients refused → success; `SendResult.refused` counts them (codes only, no addresses)
  and a warning with the count is logged
* authentication refused (535, 530, …) → permanent ``auth``; a 4xx AUTH reply (454 "temporary
  authentication failure") → transient ``auth``; server offers no AUTH / no usable mechanism → permanent ``auth``
* ``security="starttls"`` but the server does not offer STARTTLS → permanent ``tls``: this is a
  configuration mismatch (or a downgrade attack); retrying the same configuration will not help,
  and falling back to plain text would send debtors' data in clear
* TLS handshake / certificate verification failure (``ssl.SSLError``) → permanent ``tls``, except the
  peer hanging up mid-handshake (``SSLEOFError`` and kin) → transient ``connection``
* a recipient, sender or header the library refuses (bad address, CR/LF in a header, SMTPUTF8
  needed but not offered) → permanent ``address``/``message``/``unsupported``
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import logging
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr

log = logging.getLogger(__name__)

__all__ = [
    "Attachment",
    "Mail",
    "MailError",
    "MailErrorKind",
    "Mailer",
    "SendResult",
    "SmtpSettings",
    "build_message",
    "envelope_recipients",
]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/csv"
    content: bytes


@dataclass(frozen=True)
class Mail:
    message_id: str  # RFC 5322 Message-ID incl. angle brackets; stable per reminder so a resend is recognisable
    sender: str  # From, e.g. "Demo Forniture S.r.l. <crediti@demo.example>"
    to: tuple[str, ...]  # recipients (at least one)
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # extra headers, e.g. ("X-Softcollect-Step", "first_reminder")


MailErrorKind = Literal[
    "connection",  # refused, reset, lost, unreachable
    "timeout",  # connect, greeting or a command took longer than SmtpSettings.timeout
    "tls",  # STARTTLS not offered, handshake or certificate failure
    "auth",  # login refused or impossible
    "greeting",  # the server's greeting was not 220
    "sender",  # MAIL FROM refused
    "recipients",  # every RCPT TO refused
    "data",  # DATA or the message content refused
    "smtp",  # any other unexpected SMTP reply
    "address",  # an address the client cannot send to (syntax, SMTPUTF8)
    "message",  # the Mail cannot be turned into a MIME message
    "unsupported",  # a needed SMTP extension is missing
]


class MailError(Exception):
    """One failed delivery attempt. ``str(err)`` never contains a recipient's address."""

    def __init__(self, message: str, *, transient: bool, kind: MailErrorKind, code: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient  # True: worth retrying; False: permanent
        self.kind: MailErrorKind = kind
        self.code = code  # the SMTP reply code, when the failure was a reply

    def __reduce__(self):  # keep the classification across pickling (keyword-only arguments)
        return (_rebuild_mail_error, (str(self), self.transient, self.kind, self.code))

    def __repr__(self) -> str:
        return f"MailError({str(self)!r}, transient={self.transient}, kind={self.kind!r}, code={self.code})"


def _rebuild_mail_error(message: str, transient: bool, kind: MailErrorKind, code: int | None) -> MailError:
    return MailError(message, transient=transient, kind=kind, code=code)


@dataclass(frozen=True)
class SendResult:
    """What one successful attempt achieved. No addresses: counts and reply codes only."""

    accepted: int  # envelope recipients the server accepted
    refused: int  # envelope recipients refused at RCPT (the message was still sent to the others)
    refused_codes: tuple[int, ...]  # their reply codes, in recipient order
    reply: str  # the server's reply to DATA (often a queue id), redacted


class SmtpSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(2525, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"  # starttls = require STARTTLS; tls = implicit TLS
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(10.0, gt=0)  # seconds, connect and each command
    ca_file: str | None = None  # extra CA to trust (tests use a self-signed cert)
    validate_certs: bool = True
    # Name sent in EHLO; None lets aiosmtplib use the host's FQDN.
    local_hostname: str | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        """The client TLS context for ``starttls``/``tls`` (None for ``none``): system CAs plus `ca_file`."""
        if self.security == "none":
            return None
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.ca_file:
            ctx.load_verify_locations(cafile=self.ca_file)
        if not self.validate_certs:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


# --------------------------------------------------------------------------- message building

_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in ("Message-ID", "Date", "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Sender",
              "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition")
)
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII except ':' (RFC 5322 ftext)
_MESSAGE_ID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")


def _address(value: str, what: str) -> Address:
    """Parse ``"Name <local@domain>"`` or ``"local@domain"``; the error text never echoes the value."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} contains a line break")
    name, addr = email.utils.parseaddr(value)
    if not addr or "@" not in addr:
        raise ValueError(f"{what} is not a valid e-mail address")
    try:
        parsed = Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError, TypeError):
        raise ValueError(f"{what} is not a valid e-mail address") from None
    if not parsed.username or not parsed.domain or " " in addr:
        raise ValueError(f"{what} is not a valid e-mail address")
    return parsed


def envelope_recipients(mail: Mail) -> list[str]:
    """The RCPT TO addresses of `mail` (the bare addr-specs of `Mail.to`). Raises ValueError without echoing them."""
    if not mail.to:
        raise ValueError("the mail has no recipient")
    addrs = [_address(to, f"recipient #{i}").addr_spec for i, to in enumerate(mail.to, 1)]
    return list(dict.fromkeys(addrs))  # a duplicate would be one more RCPT for the same mailbox


def build_message(mail: Mail) -> EmailMessage:
    """The MIME message for `mail`.

    Structure: ``text/plain`` alone; ``multipart/alternative`` (text, html) when there is html;
    wrapped in ``multipart/mixed`` with one part per attachment when there are attachments.
    Text parts are UTF-8 quoted-printable (7-bit clean whatever the relay supports); non-ASCII
    headers are RFC 2047 encoded by the ``email`` package. Raises ValueError (never echoing a
    recipient) for a bad address, a bad Message-ID, a line break in a header, a bad content
    type, or an extra header that would override one this function sets.
    """
    if not _MESSAGE_ID.match(mail.message_id):
        raise ValueError("message_id must look like <id@domain>")
    sender = _address(mail.sender, "sender")
    recipients = [_address(to, f"recipient #{i}") for i, to in enumerate(mail.to, 1)]
    if not recipients:
        raise ValueError("the mail has no recipient")
    reply_to = _address(mail.reply_to, "reply_to") if mail.reply_to is not None else None
    if "\r" in mail.subject or "\n" in mail.subject:
        raise ValueError("subject contains a line break")

    msg = EmailMessage(policy=email.policy.default)  # aiosmtplib flattens it with CRLF line ends
    msg["Message-ID"] = mail.message_id
    msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)  # transport metadata, not a domain date
    msg["From"] = sender
    msg["To"] = recipients
    if reply_to is not None:
        msg["Reply-To"] = reply_to
    msg["Subject"] = mail.subject
    for name, value in mail.headers:
        if not _HEADER_NAME.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name} is set by build_message and cannot be overridden")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} contains a line break")
        msg[name] = value

    msg.set_content(mail.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for att in mail.attachments:
        maintype, slash, subtype = att.content_type.partition("/")
        if not slash or not maintype or not subtype or any(c in att.content_type for c in " \r\n;"):
            raise ValueError(f"invalid content type {att.content_type!r} for an attachment")
        if not att.filename or "\r" in att.filename or "\n" in att.filename:
            raise ValueError("invalid attachment filename")
        msg.add_attachment(att.content, maintype=maintype.lower(), subtype=subtype.lower(), filename=att.filename)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # the email package stamps it on every part; it belongs to the top level only
    return msg


# --------------------------------------------------------------------------- redaction

_EMAILISH = re.compile(r"[^\s<>()\[\]{}\"',;:]+@[^\s<>()\[\]{}\"',;:]+")


def _redact(text: str, known: Iterable[str] = ()) -> str:
    for value in sorted({k for k in known if k}, key=len, reverse=True):
        text = re.sub(re.escape(value), "<redacted>", text, flags=re.IGNORECASE)
    return _EMAILISH.sub("<redacted>", text)


# --------------------------------------------------------------------------- sending

Phase = Literal["connect", "starttls", "login", "send"]


def _reply_kind(exc: aiosmtplib.SMTPResponseException, phase: Phase) -> MailErrorKind:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError) or phase == "login":
        return "auth"
    if phase == "starttls":
        return "tls"
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError) or phase == "connect":
        return "greeting"
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return "sender"
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return "data"
    return "smtp"


# The peer went away mid-handshake: a connection problem, not a TLS configuration one.
_SSL_CUT_OFF = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _ssl_error_in(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ssl.SSLError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def _classify(exc: Exception, phase: Phase, known: list[str], where: str) -> MailError:
    def detail(text: str) -> str:
        return _redact(" ".join(str(text).split()), known)

    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        transient = bool(codes) and all(400 <= c < 500 for c in codes)
        return MailError(
            f"{where}: all {len(codes)} recipient(s) refused (codes {', '.join(map(str, codes))})",
            transient=transient, kind="recipients", code=codes[0] if codes else None,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        kind = _reply_kind(exc, phase)
        transient = 400 <= exc.code < 500
        if not (400 <= exc.code < 600):
            transient = True  # a garbled or unexpected reply: a protocol hiccup, worth another attempt
        what = "permanent" if not transient else "temporary"
        return MailError(f"{where}: {what} SMTP reply {exc.code} during {phase}: {detail(exc.message)}",
                         transient=transient, kind=kind, code=exc.code)
    if (tls := _ssl_error_in(exc)) is not None and not isinstance(tls, _SSL_CUT_OFF):
        return MailError(f"{where}: TLS failure during {phase}: {detail(type(tls).__name__ + ': ' + str(tls))}",
                         transient=False, kind="tls")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return MailError(f"{where}: timed out during {phase}: {detail(str(exc) or type(exc).__name__)}",
                         transient=True, kind="timeout")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError | OSError):
        return MailError(f"{where}: connection failure during {phase}: {detail(str(exc) or type(exc).__name__)}",
                         transient=True, kind="connection")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return MailError(f"{where}: {detail(str(exc))}", transient=False, kind="unsupported")
    if isinstance(exc, aiosmtplib.SMTPException):
        # Raised by the client itself, not a server reply: STARTTLS or AUTH not offered, no usable mechanism.
        own: MailErrorKind = "tls" if phase == "starttls" else "auth" if phase == "login" else "smtp"
        return MailError(f"{where}: {detail(str(exc))}", transient=False, kind=own)
    if isinstance(exc, ValueError):
        return MailError(f"{where}: refused by the client during {phase}: {detail(str(exc))}",
                         transient=False, kind="address" if phase == "send" else "message")
    return MailError(f"{where}: unexpected {type(exc).__name__} during {phase}: {detail(str(exc))}",
                     transient=True, kind="connection")


class Mailer:
    """One delivery attempt per `send`: connect, (STARTTLS/TLS), login if a username is set, send, quit.

    Construction builds the TLS context, so a missing `ca_file` fails at startup, not per mail.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._tls = settings.tls_context()

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=s.security == "tls",
            start_tls=False,  # STARTTLS is issued explicitly below, only when required
            tls_context=self._tls,
            local_hostname=s.local_hostname,
        )

    async def send(self, mail: Mail) -> SendResult:
        """Deliver `mail` to the relay once. Raises `MailError` (classified, redacted) on failure.

        Succeeds when at least one recipient was accepted; refusals of the others are reported in
        the returned `SendResult` (counts and codes, never addresses) and logged as a warning.
        """
        where = f"mail {mail.message_id}"
        known = [*mail.to, *(t for _, t in (email.utils.parseaddr(x) for x in mail.to))]
        try:
            message = build_message(mail)
            sender = _address(mail.sender, "sender").addr_spec
            recipients = envelope_recipients(mail)
        except ValueError as exc:
            raise MailError(f"{where}: cannot build the message: {_redact(str(exc), known)}",
                            transient=False, kind="message") from None

        s = self.settings
        client = self._client()
        phase: Phase = "connect"
        try:
            await client.connect()
            if s.security == "starttls":
                phase = "starttls"
                await client.starttls()
            if s.username is not None:
                phase = "login"
                password = s.password.get_secret_value() if s.password is not None else ""
                await client.login(s.username, password)
            phase = "send"
            refused, reply = await client.send_message(message, sender=sender, recipients=recipients)
        except asyncio.CancelledError:
            client.close()
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a classified MailError
            client.close()
            raise _classify(exc, phase, known, where) from None

        # The message is accepted: a failing QUIT must not turn it into an error (and a duplicate on retry).
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            client.close()

        codes = tuple(r.code for r in refused.values())
        result = SendResult(accepted=len(recipients) - len(refused), refused=len(refused), refused_codes=codes,
                            reply=_redact(reply, known))
        if refused:
            log.warning("%s: sent to %d recipient(s), %d refused (codes %s)", where, result.accepted, result.refused,
                        ", ".join(map(str, codes)))
        return result
