"""Detection of debtors' contact data, which outcome events must never carry.

The patterns are deliberately conservative: an e-mail address, or a phone
number written in international form (leading "+" or "tel:"). Local phone
numbers cannot be told apart from invoice numbers or amounts, so they are
not detected; services should keep free text out of outcomes anyway.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?:(?<![\w+])\+|\btel:\+?)[0-9](?:[\s().-]{0,2}[0-9]){6,14}(?![0-9])", re.IGNORECASE)

REDACTED = "[redacted]"


def find_contact_data(text: str) -> str | None:
    """Name the kind of contact data found in `text` ("an e-mail address" or
    "a phone number"), or None."""
    if _EMAIL.search(text):
        return "an e-mail address"
    if _PHONE.search(text):
        return "a phone number"
    return None


def redact_contact_data(text: str) -> str:
    """Replace e-mail addresses and international phone numbers with
    "[redacted]", e.g. before putting an SMTP error into `reminder.failed`."""
    return _PHONE.sub(REDACTED, _EMAIL.sub(REDACTED, text))
