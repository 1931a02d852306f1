"""Message templates of the reminders service: Jinja2 in a sandbox, per tenant and language (DOMAIN.md §11).

Template files
--------------
``templates/<lang>/<name>.j2`` ships with the service (``it`` and ``en``, one file per written step of the
default policy). A tenant overrides any of them with ``<tenant_root>/<tenantid>/<lang>/<name>.j2`` (``<lang>``
is a babel locale identifier: ``it``, ``en``, ``it_IT``, ...); a tenant may also add a language of its own.

A template file holds the message as named blocks, each rendered on its own::

    {% block subject %}Sollecito di pagamento (rif. {{ reference }}){% endblock %}
    {% block text %}...plain-text body, never escaped...{% endblock %}
    {% block html %}...optional HTML alternative, autoescaped...{% endblock %}

``subject`` and ``text`` are required, ``html`` is optional (no block: ``Rendered.html is None``); no other
block is allowed. The subject is collapsed to a single line. Text outside the blocks is ignored, so imports
and ``{% set %}`` go inside the block that uses them. ``{% extends %}`` is not supported; shared pieces are
macros imported inside a block with ``{% import "_macros.j2" as m with context %}`` (files whose name starts
with ``_`` are partials: never rendered as a message, resolved through the same tenant-then-shipped chain).
Blocks use ``trim_blocks`` and ``lstrip_blocks``; the text body is tidied (trailing spaces, runs of blank
lines) and ends with one newline.

Variables (plain data only: strings, booleans, ints, Decimals, dates, lists and dicts)::

    tenant_name, debtor_name, language, step, as_of, reference, locked, statement_attached,
    locale                  # the babel locale the message is formatted in, e.g. "it_IT"
    sections: [{currency, credits, unapplied, amount_due,
                lines: [{invoice_id, number, installment, due_date, days_past_due,
                         open_amount, disputed_amount}]}]

Filters, bound to the message locale: ``amount|money(currency)`` (``babel.numbers.format_currency``) and
``day|date`` / ``day|date("medium")`` (``babel.dates.format_date``, ``long`` by default).

Language: ``ctx.language`` normalised with babel (``it-IT`` → ``it_IT``, then ``it``), then the default
language of the :class:`Templates`, then ``en``; the first language that has the template (tenant or
shipped) wins. Numbers and dates follow the message's full locale when the template language is its
language (``en-GB`` → English template, ``12 June 2024``), otherwise the template language.

Sandbox
-------
Templates run in an ``ImmutableSandboxedEnvironment`` with ``StrictUndefined`` and no globals at all
(``range``, ``lipsum``, ``cycler``, ``joiner``, ``dict``, ``namespace`` are removed). A template is admitted
only after (1) a static check: every variable it reads must be one of the variables above, no attribute or
item whose name starts with ``_``, no ``self``, no ``extends``, only literal names in import/include (the
imported templates are checked the same way) and (2) a trial render of every block against built-in sample
messages. Any failure, like a syntax error, is a :class:`TemplateError` naming tenant, file, line and
reason. Admitted templates are cached per (tenant, language, name) and their source is read once per
:class:`Templates` instance, so what renders is exactly what was checked; :meth:`Templates.check` re-reads a
tenant's files from disk, checks them all and only then replaces what that tenant had cached.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

SHIPPED = Path(__file__).resolve().parent / "templates"
BLOCKS = ("subject", "text", "html")
REQUIRED_BLOCKS = ("subject", "text")
SUFFIX = ".j2"
FALLBACK_LANGUAGE = "en"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")
_DATE_FORMATS = ("short", "medium", "long", "full")
_MAX_SEQUENCE = 100_000  # longest string or list a template may build with `*`
_MAX_EXPONENT = 64


# ---------------------------------------------------------------------------------------------------------
# The message, as the service hands it over


@dataclass(frozen=True)
class Line:
    """One open item listed in a message."""

    invoice_id: str
    number: str  # the invoice number the debtor knows
    installment: int | None
    due_date: date
    days_past_due: int
    open_amount: Decimal  # open (not original) amount
    disputed_amount: Decimal  # part under dispute (shown, not asked for)


@dataclass(frozen=True)
class Section:
    """One currency of the message."""

    currency: str  # ISO 4217
    lines: tuple[Line, ...]
    credits: Decimal  # open credit notes on account in this currency
    unapplied: Decimal  # unapplied cash on account in this currency
    amount_due: Decimal  # what is asked: undisputed open of the lines minus credits and unapplied


@dataclass(frozen=True)
class MessageContext:
    tenant_name: str  # the client company (the creditor) the message is sent for
    debtor_name: str
    language: str  # BCP 47, e.g. "it", "it-IT", "en-GB"
    step: str  # policy step name, e.g. "first_reminder"
    as_of: date  # business date
    reference: str  # the reminder id, quoted so the debtor can refer to it
    sections: tuple[Section, ...]
    locked: bool = False  # the customer position is locked (final notice may mention it)
    statement_attached: bool = False


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str  # plain-text body
    html: str | None  # HTML alternative, or None


class TemplateError(ValueError):
    """A template that cannot be used; the message names tenant, template file (and line) and the reason."""


# Top-level names a template may read: the MessageContext fields plus the locale.
CONTEXT_NAMES = frozenset(
    {"tenant_name", "debtor_name", "language", "step", "as_of", "reference", "sections", "locked",
     "statement_attached", "locale"}
)


def _line_vars(line: Line) -> dict[str, Any]:
    return {
        "invoice_id": str(line.invoice_id),
        "number": str(line.number),
        "installment": None if line.installment is None else int(line.installment),
        "due_date": line.due_date,
        "days_past_due": int(line.days_past_due),
        "open_amount": Decimal(line.open_amount),
        "disputed_amount": Decimal(line.disputed_amount),
    }


def _section_vars(section: Section) -> dict[str, Any]:
    return {
        "currency": str(section.currency),
        "lines": [_line_vars(line) for line in section.lines],
        "credits": Decimal(section.credits),
        "unapplied": Decimal(section.unapplied),
        "amount_due": Decimal(section.amount_due),
    }


def template_vars(ctx: MessageContext, locale: str) -> dict[str, Any]:
    """The variables a template sees: plain data only, nothing with methods of ours."""
    return {
        "tenant_name": str(ctx.tenant_name),
        "debtor_name": str(ctx.debtor_name),
        "language": str(ctx.language or ""),
        "step": str(ctx.step),
        "as_of": ctx.as_of,
        "reference": str(ctx.reference),
        "sections": [_section_vars(s) for s in ctx.sections],
        "locked": bool(ctx.locked),
        "statement_attached": bool(ctx.statement_attached),
        "locale": locale,
    }


# Sample messages every template is trial-rendered against before it is admitted: one with every optional
# part present (installments, disputes, credits, unapplied cash, lock, attachment, two currencies), one with
# none of them, so that both branches of the usual conditions run.
_SAMPLE_DAY = date(2024, 6, 12)
SAMPLES: tuple[MessageContext, ...] = (
    MessageContext(
        tenant_name="Esempio S.p.A.", debtor_name="Cliente <Prova> & Figli S.r.l.", language="it", step="sample",
        as_of=_SAMPLE_DAY, reference="REM-SAMPLE-1", locked=True, statement_attached=True,
        sections=(
            Section(
                currency="EUR",
                lines=(
                    Line("INV-1", "2024/0101", None, date(2024, 5, 15), 28, Decimal("1234.56"), Decimal("0")),
                    Line("INV-2", "2024/0102", 2, date(2024, 6, 1), 11, Decimal("800.00"), Decimal("300.00")),
                ),
                credits=Decimal("100.00"), unapplied=Decimal("34.56"), amount_due=Decimal("1600.00"),
            ),
            Section(
                currency="USD",
                lines=(Line("INV-3", "US-77", 1, date(2024, 6, 19), -7, Decimal("99.90"), Decimal("99.90")),),
                credits=Decimal("0"), unapplied=Decimal("0"), amount_due=Decimal("0.00"),
            ),
        ),
    ),
    MessageContext(
        tenant_name="Example Ltd", debtor_name="Customer", language="en", step="sample", as_of=_SAMPLE_DAY,
        reference="REM-SAMPLE-2",
        sections=(
            Section(
                currency="EUR",
                lines=(Line("INV-9", "9", None, _SAMPLE_DAY, 0, Decimal("10.00"), Decimal("0.00")),),
                credits=Decimal("0.00"), unapplied=Decimal("0.00"), amount_due=Decimal("10.00"),
            ),
        ),
    ),
)


# ---------------------------------------------------------------------------------------------------------
# Filters (bound to the locale of the message being rendered)


def _context_locale(context: jinja2.runtime.Context) -> str:
    locale = context.resolve_or_missing("locale")
    if not isinstance(locale, str):
        raise SecurityError("the message locale is not available")
    return locale


@jinja2.pass_context
def _money(context: jinja2.runtime.Context, amount: Any, currency: Any) -> str:
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int | str):
        raise TypeError(f"money: {type(amount).__name__} is not an amount")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise TypeError(f"money: {amount!r} is not an amount") from None
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise TypeError(f"money: {currency!r} is not an ISO 4217 currency code")
    return format_currency(value, currency, locale=_context_locale(context))


@jinja2.pass_context
def _date(context: jinja2.runtime.Context, day: Any, format: str = "long") -> str:
    if not isinstance(day, date):
        raise TypeError(f"date: {type(day).__name__} is not a date")
    if format not in _DATE_FORMATS:
        raise TypeError(f"date: format must be one of {', '.join(_DATE_FORMATS)}")
    return format_date(day, format=format, locale=_context_locale(context))


# ---------------------------------------------------------------------------------------------------------
# Sandbox


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, without globals, and with `*`/`**` bounded so a template cannot exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    if len(seq) * max(times, 0) > _MAX_SEQUENCE:
                        raise SecurityError("repetition too large")
        elif operator == "**":
            if isinstance(right, int | float | Decimal) and abs(right) > _MAX_EXPONENT:
                raise SecurityError("exponent too large")
        return super().call_binop(context, operator, left, right)


class _ReadOnceLoader(jinja2.BaseLoader):
    """Tenant directory first, then the shipped one; each source is read once and then never changes, so
    the template that renders is the one that was checked."""

    def __init__(self, searchpath: list[Path]) -> None:
        self._fs = jinja2.FileSystemLoader([str(p) for p in searchpath])
        self._sources: dict[str, tuple[str, str | None]] = {}

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        if template not in self._sources:
            source, filename, _ = self._fs.get_source(environment, template)
            self._sources[template] = (source, filename)
        source, filename = self._sources[template]
        return source, filename, lambda: True


def _environment(loader: jinja2.BaseLoader, html: bool) -> _Sandbox:
    env = _Sandbox(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,  # never evicted: an evicted template would be read again, unchecked
    )
    env.globals.clear()
    env.filters["money"] = _money
    env.filters["date"] = _date
    return env


@dataclass
class _Envs:
    """The two environments of one (tenant, language): text blocks unescaped, the html block autoescaped."""

    loader: _ReadOnceLoader
    text: _Sandbox
    html: _Sandbox


@dataclass(frozen=True)
class _Admitted:
    text: jinja2.Template
    html: jinja2.Template
    has_html: bool
    filename: str


# ---------------------------------------------------------------------------------------------------------


def _safe(value: str, what: str) -> str:
    if not isinstance(value, str) or ".." in value or not _SAFE_NAME.fullmatch(value):
        raise TemplateError(f"{what} {value!r} refused: only letters, digits, '.', '_', '-' (no path)")
    return value


def _error_at(exc: BaseException) -> tuple[str, int] | None:
    """(file, line) of the innermost template frame of an error (tracebacks rewritten to template lines)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(SUFFIX) and frame.lineno is not None:
            found = (frame.filename, frame.lineno)
    return found


def _private_path(value: str) -> bool:
    """An attribute path (as `attr`, `map(attribute=...)` and the like take) that reaches a private name."""
    return any(len(part) > 1 and part.startswith("_") for part in value.split("."))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SecurityError):
        return f"not allowed in the sandbox: {exc}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined: {exc}"
    if isinstance(exc, RecursionError):
        return "recursion too deep"
    return f"{type(exc).__name__}: {exc}"


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return text + "\n"


def _render_block(template: jinja2.Template, block: str, variables: dict[str, Any]) -> str:
    context = template.new_context(dict(variables))
    try:
        return "".join(template.blocks[block](context))
    except Exception:
        template.environment.handle_exception()  # re-raises with the traceback rewritten to template lines
        raise  # not reached


class Templates:
    """The message templates of every tenant: shipped ones, overridden per tenant and language."""

    def __init__(self, tenant_root: Path | None = None, default_language: str = "it") -> None:
        self._tenant_root = Path(tenant_root) if tenant_root is not None else None
        self._default_language = default_language
        self._envs: dict[tuple[str, str], _Envs] = {}
        self._admitted: dict[tuple[str, str, str], _Admitted] = {}

    # -- public -------------------------------------------------------------------------------------------

    def languages(self) -> list[str]:
        """The shipped languages."""
        return sorted(p.name for p in SHIPPED.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))

    def render(self, tenantid: str, template: str, ctx: MessageContext) -> Rendered:
        _safe(tenantid, "tenant id")
        _safe(template, "template name")
        language, locale = self._resolve(tenantid, template, ctx.language)
        admitted = self._admit(tenantid, language, template, self._envs_for(tenantid, language))
        try:
            return self._render(admitted, template_vars(ctx, locale))
        except TemplateError as exc:
            raise TemplateError(f"tenant {tenantid!r}, template {language}/{template}{SUFFIX} "
                                f"({admitted.filename}): {exc}") from None
        except Exception as exc:  # the sandbox, a filter or the data: whatever a template can raise
            where = self._where(tenantid, language, template, admitted.filename, at=_error_at(exc))
            raise TemplateError(f"{where}: {_reason(exc)}") from exc

    def check(self, tenantid: str) -> list[str]:
        """Read the tenant's templates from disk again and admit every one (static check and trial render);
        a partial the tenant overrides re-checks every template of that language. Returns the names
        checked (``<lang>/<name>``); raises TemplateError on the first bad one and then keeps what the
        tenant had before."""
        _safe(tenantid, "tenant id")
        if self._tenant_root is None:
            return []
        root = self._tenant_root / tenantid
        if not root.is_dir():
            return []
        envs: dict[tuple[str, str], _Envs] = {}
        admitted: dict[tuple[str, str, str], _Admitted] = {}
        checked: list[str] = []
        for lang_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            language = lang_dir.name
            try:
                Locale.parse(language)
            except (ValueError, TypeError, UnknownLocaleError):
                raise TemplateError(f"tenant {tenantid!r}, directory {language}/: not a language "
                                    "(expected a locale like 'it', 'en' or 'it_IT')") from None
            env = envs[(tenantid, language)] = self._new_envs(tenantid, language)
            names: list[str] = []
            for file in sorted(lang_dir.iterdir()):
                if not file.is_file() or not file.name.endswith(SUFFIX):
                    continue
                name = file.name[: -len(SUFFIX)]
                try:
                    _safe(name, "template name")
                except TemplateError as exc:
                    raise TemplateError(f"tenant {tenantid!r}, file {language}/{file.name}: {exc}") from None
                names.append(name)
            if any(n.startswith("_") for n in names):  # a partial may be used by any template
                names = sorted(set(names) | set(self._names(tenantid, language)))
            for name in names:
                if name.startswith("_"):
                    self._static(tenantid, language, name, env, partial=True)
                else:
                    admitted[(tenantid, language, name)] = self._admit(tenantid, language, name, env, cache=False)
                checked.append(f"{language}/{name}")
        for key in [k for k in self._envs if k[0] == tenantid]:
            del self._envs[key]
        for key in [k for k in self._admitted if k[0] == tenantid]:
            del self._admitted[key]
        self._envs.update(envs)
        self._admitted.update(admitted)
        return checked

    # -- resolution ---------------------------------------------------------------------------------------

    def _search_path(self, tenantid: str, language: str) -> list[Path]:
        paths = [SHIPPED / language]
        if self._tenant_root is not None:
            paths.insert(0, self._tenant_root / tenantid / language)
        return paths

    def _names(self, tenantid: str, language: str) -> list[str]:
        """Every non-partial template name available to the tenant in a language."""
        names = set()
        for path in self._search_path(tenantid, language):
            if path.is_dir():
                names |= {p.name[: -len(SUFFIX)] for p in path.glob(f"*{SUFFIX}") if _SAFE_NAME.fullmatch(p.stem)}
        return sorted(n for n in names if not n.startswith("_") and ".." not in n)

    def _exists(self, tenantid: str, language: str, name: str) -> bool:
        return any((p / f"{name}{SUFFIX}").is_file() for p in self._search_path(tenantid, language))

    def _resolve(self, tenantid: str, name: str, language: str) -> tuple[str, str]:
        """(template language directory, babel locale to format in)."""
        requested = _parse_locale(language)
        candidates: list[str] = []
        if requested is not None:
            if requested.territory:
                candidates.append(f"{requested.language}_{requested.territory}")
            candidates.append(requested.language)
        default = _parse_locale(self._default_language)
        candidates += [str(default.language)] if default is not None else []
        candidates.append(FALLBACK_LANGUAGE)
        for candidate in dict.fromkeys(candidates):
            if self._exists(tenantid, candidate, name):
                if requested is not None and _parse_locale(candidate).language == requested.language:
                    return candidate, str(requested)
                return candidate, candidate
        raise TemplateError(f"tenant {tenantid!r}, template {name}{SUFFIX}: not found in "
                            f"{', '.join(dict.fromkeys(candidates))}")

    # -- admission ----------------------------------------------------------------------------------------

    def _new_envs(self, tenantid: str, language: str) -> _Envs:
        loader = _ReadOnceLoader(self._search_path(tenantid, language))
        return _Envs(loader, _environment(loader, html=False), _environment(loader, html=True))

    def _envs_for(self, tenantid: str, language: str) -> _Envs:
        key = (tenantid, language)
        if key not in self._envs:
            self._envs[key] = self._new_envs(tenantid, language)
        return self._envs[key]

    @staticmethod
    def _where(tenantid: str, language: str, name: str, filename: str | None, line: int | None = None,
               at: tuple[str, int] | None = None) -> str:
        """Where an error is: tenant, template, file and line (`at`: file and line of a runtime error,
        which may be in an imported template)."""
        where = f"tenant {tenantid!r}, template {language}/{name}{SUFFIX}"
        if filename:
            where += f" ({filename})"
        if at is not None:
            if filename and at[0] != filename:
                where += f", in {at[0]}"
            line = at[1]
        if line is not None:
            where += f", line {line}"
        return where

    def _source(self, tenantid: str, language: str, name: str, env: _Envs,
                importer: str | None = None) -> tuple[nodes.Template, str | None]:
        try:
            source, filename, _ = env.loader.get_source(env.text, f"{name}{SUFFIX}")
        except jinja2.TemplateNotFound:
            by = f" (imported by {importer})" if importer else ""
            raise TemplateError(f"{self._where(tenantid, language, name, None)}: not found{by}") from None
        try:
            return env.text.parse(source, f"{name}{SUFFIX}", filename), filename
        except jinja2.TemplateSyntaxError as exc:
            where = self._where(tenantid, language, name, filename, exc.lineno)
            raise TemplateError(f"{where}: syntax error: {exc.message}") from None

    def _static(self, tenantid: str, language: str, name: str, env: _Envs, partial: bool,
                seen: set[str] | None = None, importer: str | None = None) -> tuple[nodes.Template, str | None]:
        """Parse and statically check a template and, recursively, every template it imports or includes."""
        seen = set() if seen is None else seen
        seen.add(name)
        tree, filename = self._source(tenantid, language, name, env, importer)

        def fail(reason: str, node: Any = None) -> TemplateError:
            line = getattr(node, "lineno", None) if node is not None else None
            return TemplateError(f"{self._where(tenantid, language, name, filename, line)}: {reason}")

        for node in tree.find_all(nodes.Extends):
            raise fail("{% extends %} is not supported: import macros inside a block instead", node)
        try:
            undeclared = meta.find_undeclared_variables(tree)
        except jinja2.TemplateSyntaxError as exc:  # e.g. TemplateAssertionError from the code generator
            raise fail(f"syntax error: {exc.message}", exc) from None
        unknown = sorted(undeclared - CONTEXT_NAMES)
        if unknown:
            raise fail(f"unknown variable(s) {', '.join(unknown)}; a template may use only "
                       f"{', '.join(sorted(CONTEXT_NAMES))}")
        for node in tree.find_all(nodes.Name):
            if node.name == "self":
                raise fail("'self' is not allowed", node)
        for node in tree.find_all(nodes.Getattr):
            if node.attr.startswith("_"):
                raise fail(f"access to attribute {node.attr!r} is not allowed", node)
        for node in tree.find_all(nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
                raise fail(f"access to item {node.arg.value!r} is not allowed", node)
        for node in tree.find_all((nodes.Filter, nodes.Test)):  # attr, map(attribute=...), sort(attribute=...)
            for arg in [*node.args, *(kw.value for kw in node.kwargs)]:
                if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and _private_path(arg.value):
                    raise fail(f"access to attribute {arg.value!r} is not allowed", node)
        if not partial:
            blocks = [b.name for b in tree.find_all(nodes.Block)]
            for block in blocks:
                if block not in BLOCKS:
                    raise fail(f"unknown block {block!r} (blocks: {', '.join(BLOCKS)})")
            missing = [b for b in REQUIRED_BLOCKS if b not in blocks]
            if missing:
                raise fail(f"missing block(s) {', '.join(missing)}")
        for referenced in meta.find_referenced_templates(tree):
            if referenced is None:
                raise fail("imports and includes need a literal template name")
            if not referenced.endswith(SUFFIX):
                raise fail(f"cannot import {referenced!r}: template names end in {SUFFIX}")
            ref_name = referenced[: -len(SUFFIX)]
            try:
                _safe(ref_name, "imported template name")
            except TemplateError as exc:
                raise fail(str(exc)) from None
            if ref_name not in seen:
                self._static(tenantid, language, ref_name, env, partial=True, seen=seen,
                             importer=filename or f"{language}/{name}{SUFFIX}")
        return tree, filename

    def _admit(self, tenantid: str, language: str, name: str, env: _Envs, cache: bool = True) -> _Admitted:
        key = (tenantid, language, name)
        if cache and key in self._admitted:
            return self._admitted[key]
        if name.startswith("_"):
            raise TemplateError(f"{self._where(tenantid, language, name, None)}: a partial is not a message")
        _, filename = self._static(tenantid, language, name, env, partial=False)
        try:
            text = env.text.get_template(f"{name}{SUFFIX}")
            html = env.html.get_template(f"{name}{SUFFIX}")
        except jinja2.TemplateSyntaxError as exc:  # an imported template (already parsed; kept for safety)
            raise TemplateError(f"{self._where(tenantid, language, name, exc.filename, exc.lineno)}: "
                                f"syntax error: {exc.message}") from None
        admitted = _Admitted(text, html, "html" in text.blocks, filename or name)
        for sample in SAMPLES:
            try:
                self._render(admitted, template_vars(sample, _sample_locale(language)))
            except TemplateError as exc:
                raise TemplateError(f"{self._where(tenantid, language, name, filename)}: {exc}") from None
            except Exception as exc:
                raise TemplateError(f"{self._where(tenantid, language, name, filename, at=_error_at(exc))}: "
                                    f"trial render failed: {_reason(exc)}") from exc
        if cache:
            self._admitted[key] = admitted
        return admitted

    @staticmethod
    def _render(admitted: _Admitted, variables: dict[str, Any]) -> Rendered:
        subject = " ".join(_render_block(admitted.text, "subject", variables).split())
        if not subject:
            raise TemplateError("the subject is empty")
        text = _tidy_text(_render_block(admitted.text, "text", variables))
        if not text.strip():
            raise TemplateError("the text body is empty")
        html = _render_block(admitted.html, "html", variables).strip() if admitted.has_html else ""
        return Rendered(subject=subject, text=text, html=html or None)


def _parse_locale(language: str | None) -> Locale | None:
    if not isinstance(language, str) or not language.strip():
        return None
    tag = language.strip().replace("-", "_")
    for attempt in (tag, tag.split("_")[0]):
        try:
            return Locale.parse(attempt)
        except (ValueError, TypeError, UnknownLocaleError):
            continue
    return None


def _sample_locale(language: str) -> str:
    parsed = _parse_locale(language)
    return str(parsed) if parsed is not None else FALLBACK_LANGUAGE
