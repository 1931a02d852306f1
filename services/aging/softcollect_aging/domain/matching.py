"""Which invoices a payment names (DOMAIN.md §5 rule 1), and the combination rule.

How a reference is recognised, strictest first:

1. the same text as an invoice id or number;
2. the same once case, separators and the look-alike characters O/0 and I/l/1
   are set aside ("2026/1O02", "2026-1002" and "2026 1002" all name 2026/1002);
3. remittance text only: one edit away (Levenshtein distance ≤ `FUZZY_MAX_DISTANCE`
   after 2's normalisation) from exactly one invoice, for references of at
   least `FUZZY_MIN_LENGTH` characters; a token that names some invoice by 1
   or 2 is never taken for another one edit away, so "2026/1002" never pays
   2026/1003.

`invoice_refs` use 1 and 2 only: a structured reference that names no known
invoice is taken to be an invoice not arrived yet, and the money waits for it.
A reference that fits several invoices equally well names none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .ledger import Item

FUZZY_MAX_DISTANCE = 1
FUZZY_MIN_LENGTH = 6  # shorter numbers are too close to each other for a typo to say which one was meant
COMBINATION_MAX_ITEMS = 5

_LOOKALIKES = str.maketrans({"o": "0", "i": "1", "l": "1"})
_NOT_ALNUM = re.compile(r"[^0-9a-z]")
_TOKEN_SPLIT = re.compile(r"[\s,;:()\[\]{}<>\"'#*=+]+")
_WORD_PREFIX = re.compile(r"[^\W\d_]+[.°º/-]*(?=\d)")  # "n.", "Nr.", "FT", "fattura" glued to a number


def normalize_ref(text: str) -> str:
    return _NOT_ALNUM.sub("", text.casefold().translate(_LOOKALIKES))


class Catalogue:
    """The invoices a ledger knows, indexed for reference matching."""

    def __init__(self, invoices: Iterable[tuple[str, str]]) -> None:
        self.ids: set[str] = set()
        self.by_number: dict[str, set[str]] = {}
        self.by_normal: dict[str, set[str]] = {}
        for invoice_id, number in invoices:
            self.ids.add(invoice_id)
            self.by_number.setdefault(number, set()).add(invoice_id)
            for ref in (invoice_id, number):
                if normal := normalize_ref(ref):
                    self.by_normal.setdefault(normal, set()).add(invoice_id)

    def exact(self, ref: str) -> set[str]:
        """Invoices `ref` names by rules 1 and 2 (empty: none; several: ambiguous)."""
        if ref in self.ids:
            return {ref}
        if ref in self.by_number:
            return self.by_number[ref]
        return self.by_normal.get(normalize_ref(ref), set())

    def near(self, ref: str) -> set[str]:
        """Invoices one typo away from `ref` (rule 3)."""
        normal = normalize_ref(ref)
        if len(normal) < FUZZY_MIN_LENGTH or not any(c.isdigit() for c in normal):
            return set()
        choices = {n: n for n in self.by_normal if len(n) >= FUZZY_MIN_LENGTH}
        hits = process.extract(normal, choices, scorer=Levenshtein.distance,
                               score_cutoff=FUZZY_MAX_DISTANCE, limit=None)
        return set().union(*(self.by_normal[key] for _, _, key in hits)) if hits else set()


def resolve_refs(refs: Sequence[str], catalogue: Catalogue) -> tuple[list[str], list[str]]:
    """`invoice_refs` → (invoices named, in the order given; refs naming no known invoice)."""
    named: list[str] = []
    unknown: list[str] = []
    for ref in refs:
        found = catalogue.exact(ref)
        if len(found) == 1:
            (invoice_id,) = found
            if invoice_id not in named:
                named.append(invoice_id)
        elif not found and normalize_ref(ref) and ref not in unknown:
            unknown.append(ref)
    return named, unknown


def _tokens(text: str) -> list[list[str]]:
    """Candidate references in the text, each with its variant without a word glued in front."""
    out = []
    for raw in _TOKEN_SPLIT.split(text):
        token = raw.strip("./-_\\")
        if not token:
            continue
        variants = [token]
        if m := _WORD_PREFIX.match(token):
            variants.append(token[m.end():])
        out.append(variants)
    return out


def find_in_remittance(text: str, catalogue: Catalogue) -> list[str]:
    """Invoices the remittance text names, in order of appearance."""
    named: list[str] = []
    for variants in _tokens(text):
        found: set[str] = set()
        for variant in variants:
            found = catalogue.exact(variant)
            if found:
                break
        if not found:  # only a token that names nothing exactly may be a typo
            for variant in variants:
                found = catalogue.near(variant)
                if found:
                    break
        if len(found) == 1:
            (invoice_id,) = found
            if invoice_id not in named:
                named.append(invoice_id)
    return named


def oldest_combination(items: Sequence[Item], amount: Decimal) -> list[Item] | None:
    """The oldest open items, at most five, summing exactly to `amount` (rule 3).

    Defined as the shortest run from the oldest item on (a contiguous prefix of
    the items in age order): it is unique when it exists, it is what a debtor
    paying "everything up to" some date sends, and it never skips an older
    item to pay a younger one."""
    total = Decimal(0)
    for count, item in enumerate(items[:COMBINATION_MAX_ITEMS], start=1):
        total += item.open_amount
        if total == amount:
            return list(items[:count])
        if total > amount:
            return None
    return None
