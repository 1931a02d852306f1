"""The statement-of-account attachment of a reminder: the open items of the message as a CSV file.

Why CSV: the debtor's accounts-payable staff reconcile it against their own ledger, so it must be
machine-readable by their AP tools and open directly in any spreadsheet; it needs no rendering dependency
(no PDF engine, no fonts) and carries exact decimals, never a float or a localised number. The human,
localised view of the same items is in the message body itself.

Format: RFC 4180 (comma separated, CRLF line ends, quoted where needed, via the ``csv`` module), UTF-8 with a
byte-order mark so that spreadsheet applications detect the encoding. Values are plain and
machine-readable: ISO 8601 dates, dot decimals exactly as held (no thousands separator, no currency symbol).

Columns::

    invoice_number, invoice_id, installment, due_date, days_past_due, currency, open_amount,
    disputed_amount, row_type

One ``item`` row per open item (``installment`` empty when the item is a whole invoice); then, per
currency, an ``on_account_credit_notes`` row and an ``on_account_unapplied_cash`` row when non-zero, with
the amount negative in ``open_amount`` (it reduces what is due), and an ``amount_due`` row with the amount
asked: the undisputed open amount of the items minus credit notes and unapplied cash. ``row_type`` is the
last column so that the item columns keep their documented positions; on the other rows only
``currency``, ``open_amount`` and ``row_type`` are filled.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from softcollect_reminders.render import MessageContext

CONTENT_TYPE = "text/csv"
COLUMNS = (
    "invoice_number", "invoice_id", "installment", "due_date", "days_past_due", "currency", "open_amount",
    "disputed_amount", "row_type",
)
ITEM = "item"
CREDIT_NOTES = "on_account_credit_notes"
UNAPPLIED_CASH = "on_account_unapplied_cash"
AMOUNT_DUE = "amount_due"


def _amount(value: Decimal) -> str:
    """A plain dot decimal, exactly as held (never exponent notation)."""
    value = Decimal(value)
    if value == 0:
        value = abs(value)  # no "-0.00"
    return format(value, "f")


def _on_account(currency: str, amount: Decimal, row_type: str) -> list[str]:
    return ["", "", "", "", "", currency, _amount(amount), "", row_type]


def statement_csv(ctx: MessageContext) -> tuple[str, str, bytes]:
    """(filename, "text/csv", content) of the statement of the message's open items."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for section in ctx.sections:
        for line in section.lines:
            writer.writerow([
                line.number,
                line.invoice_id,
                "" if line.installment is None else str(line.installment),
                line.due_date.isoformat(),
                str(line.days_past_due),
                section.currency,
                _amount(line.open_amount),
                _amount(line.disputed_amount),
                ITEM,
            ])
        if section.credits:
            writer.writerow(_on_account(section.currency, -abs(section.credits), CREDIT_NOTES))
        if section.unapplied:
            writer.writerow(_on_account(section.currency, -abs(section.unapplied), UNAPPLIED_CASH))
        writer.writerow(_on_account(section.currency, section.amount_due, AMOUNT_DUE))
    return f"statement-{ctx.as_of.isoformat()}.csv", CONTENT_TYPE, buffer.getvalue().encode("utf-8-sig")
