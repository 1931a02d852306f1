"""Message templates of the reminders service: shipped content, formatting, language fallback, tenant
overrides, the sandbox, and the statement-of-account CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from softcollect_reminders.render import (
    Line,
    MessageContext,
    Rendered,
    Section,
    TemplateError,
    Templates,
)
from softcollect_reminders.statement import statement_csv

NBSP = "\xa0"
STEPS = ("courtesy", "due_today", "first_reminder", "statement", "second_reminder", "final_notice")
AS_OF = date(2024, 6, 14)


def context(language: str = "it", step: str = "first_reminder", **kw) -> MessageContext:
    eur = Section(
        currency="EUR",
        lines=(
            Line("INV-1", "FT-2024/101", None, date(2024, 5, 20), 25, Decimal("1234.56"), Decimal("0.00")),
            Line("INV-2", "FT-2024/102", 2, date(2024, 6, 1), 13, Decimal("500.00"), Decimal("200.00")),
        ),
        credits=Decimal("100.00"),
        unapplied=Decimal("34.56"),
        amount_due=Decimal("1400.00"),  # 1234.56 + (500.00 - 200.00) - 100.00 - 34.56
    )
    usd = Section(
        currency="USD",
        lines=(Line("INV-3", "US-9", None, date(2024, 6, 10), 4, Decimal("250.00"), Decimal("0.00")),),
        credits=Decimal("0.00"),
        unapplied=Decimal("0.00"),
        amount_due=Decimal("250.00"),
    )
    fields = dict(tenant_name="Rossi Forniture S.p.A.", debtor_name="Bianchi S.r.l.", language=language, step=step,
                  as_of=AS_OF, reference="REM-42", sections=(eur, usd), locked=False, statement_attached=False)
    fields.update(kw)
    return MessageContext(**fields)


@pytest.fixture(scope="module")
def shipped() -> Templates:
    return Templates()


@pytest.fixture
def tenant_root(tmp_path: Path) -> Path:
    (tmp_path / "acme" / "it").mkdir(parents=True)
    (tmp_path / "acme" / "en").mkdir(parents=True)
    return tmp_path


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def message(text: str) -> str:
    """A valid template whose text block is `text`."""
    return "{% block subject %}Oggetto{% endblock %}\n{% block text %}\n" + text + "\n{% endblock %}\n"


# ---------------------------------------------------------------------------------------------------------
# Shipped templates

SUBJECTS = {
    "it": {
        "courtesy": "Avviso di cortesia: fatture in scadenza – Rossi Forniture S.p.A. (rif. REM-42)",
        "due_today": "Promemoria di pagamento: fatture in scadenza oggi – Rossi Forniture S.p.A. (rif. REM-42)",
        "first_reminder": "Sollecito di pagamento – Rossi Forniture S.p.A. (rif. REM-42)",
        "statement": "Estratto conto al 14 giugno 2024 – Rossi Forniture S.p.A. (rif. REM-42)",
        "second_reminder": "Secondo sollecito di pagamento – Rossi Forniture S.p.A. (rif. REM-42)",
        "final_notice": "Ultimo avviso di pagamento – Rossi Forniture S.p.A. (rif. REM-42)",
    },
    "en": {
        "courtesy": "Courtesy reminder: invoices falling due – Rossi Forniture S.p.A. (ref. REM-42)",
        "due_today": "Payment reminder: invoices due today – Rossi Forniture S.p.A. (ref. REM-42)",
        "first_reminder": "Overdue payment reminder – Rossi Forniture S.p.A. (ref. REM-42)",
        "statement": "Statement of account as of June 14, 2024 – Rossi Forniture S.p.A. (ref. REM-42)",
        "second_reminder": "Second payment reminder – Rossi Forniture S.p.A. (ref. REM-42)",
        "final_notice": "Final payment notice – Rossi Forniture S.p.A. (ref. REM-42)",
    },
}

IT_LINES = (
    f"- Fattura n. FT-2024/101, scadenza 20 maggio 2024: 1.234,56{NBSP}€\n"
    f"- Fattura n. FT-2024/102, rata 2, scadenza 1 giugno 2024: 500,00{NBSP}€"
    f" (di cui 200,00{NBSP}€ in contestazione, non richiesti)\n"
    f"  A dedurre, note di credito a Vostro favore: 100,00{NBSP}€\n"
    f"  A dedurre, pagamenti ricevuti non ancora imputati: 34,56{NBSP}€\n"
    f"  Importo da pagare: 1.400,00{NBSP}€\n"
    "\n"
    "Partite in USD:\n"
    f"- Fattura n. US-9, scadenza 10 giugno 2024: 250,00{NBSP}USD\n"
    f"  Importo da pagare: 250,00{NBSP}USD\n"
)

EN_LINES = (
    "- Invoice FT-2024/101, due May 20, 2024: €1,234.56\n"
    "- Invoice FT-2024/102, installment 2, due June 1, 2024: €500.00 (of which €200.00 under dispute, not requested)\n"
    "  Less open credit notes in your favour: €100.00\n"
    "  Less payments received not yet allocated: €34.56\n"
    "  Amount due: €1,400.00\n"
    "\n"
    "Items in USD:\n"
    "- Invoice US-9, due June 10, 2024: $250.00\n"
    "  Amount due: $250.00\n"
)


def test_shipped_languages(shipped: Templates):
    assert shipped.languages() == ["en", "it"]


@pytest.mark.parametrize("language", ["it", "en"])
@pytest.mark.parametrize("step", STEPS)
def test_every_shipped_step_renders(shipped: Templates, step: str, language: str):
    out = shipped.render("acme", step, context(language, step, locked=True, statement_attached=True))
    assert isinstance(out, Rendered)
    assert out.subject == SUBJECTS[language][step]
    assert "\n" not in out.subject
    body = IT_LINES if language == "it" else EN_LINES
    assert body in out.text
    assert ("Partite in EUR:\n" if language == "it" else "Items in EUR:\n") in out.text
    assert "REM-42" in out.text and "Rossi Forniture S.p.A." in out.text
    assert out.text.endswith("\n") and not out.text.endswith("\n\n")
    assert "\n\n\n" not in out.text
    if language == "it":
        assert out.text.startswith("Spett.le Bianchi S.r.l.\n\nGentile cliente,\n\n")
        assert "Qualora abbiate già provveduto al pagamento, Vi preghiamo di non tenere conto" in out.text
    else:
        assert out.text.startswith("Bianchi S.r.l.\n\nDear Customer,\n\n")
        assert "If you have already paid, please disregard this message." in out.text
    assert out.html is not None and out.html.startswith("<!DOCTYPE html>") and out.html.endswith("</html>")
    assert "FT-2024/102" in out.html and "REM-42" in out.html
    assert "@" not in out.text + out.html + out.subject  # no e-mail address of anyone


def test_italian_money_and_dates(shipped: Templates):
    out = shipped.render("acme", "statement", context("it", "statement"))
    assert f"1.234,56{NBSP}€" in out.text
    assert "aggiornato al 14 giugno 2024" in out.text
    assert f'<td align="right">1.234,56{NBSP}€</td>' in out.html
    assert "<td>20 maggio 2024</td>" in out.html


def test_english_money_and_dates_follow_the_region(shipped: Templates):
    us = shipped.render("acme", "statement", context("en", "statement"))
    assert "€1,234.56" in us.text and "as of June 14, 2024" in us.text and "$250.00" in us.text
    gb = shipped.render("acme", "statement", context("en-GB", "statement"))
    assert "€1,234.56" in gb.text and "as of 14 June 2024" in gb.text and "due 20 May 2024" in gb.text
    assert "US$250.00" in gb.text


def test_disputed_part_is_shown_not_asked(shipped: Templates):
    out = shipped.render("acme", "second_reminder", context("it", "second_reminder"))
    assert f"(di cui 200,00{NBSP}€ in contestazione, non richiesti)" in out.text
    assert f"di cui 200,00{NBSP}€ in contestazione, non richiesti</td>" in out.html
    assert out.text.count("in contestazione") == 1


def test_optional_parts(shipped: Templates):
    plain = shipped.render("acme", "final_notice", context("it", "final_notice"))
    assert "posizione cliente è stata bloccata" not in plain.text
    locked = shipped.render("acme", "final_notice", context("it", "final_notice", locked=True))
    assert ("Vi informiamo inoltre che la Vostra posizione cliente è stata bloccata: fino alla regolarizzazione "
            "non potremo dare corso a nuovi ordini.") in locked.text
    assert "procedura di recupero crediti" in plain.text and "Distinti saluti," in plain.text
    attached = shipped.render("acme", "first_reminder", context("en", "first_reminder", statement_attached=True))
    assert "Please find attached a statement of your open items (CSV file)" in attached.text
    bare = shipped.render("acme", "first_reminder", context("en", "first_reminder"))
    assert "attached" not in bare.text
    no_credits = dataclasses.replace(context("it"), sections=context("it").sections[1:])
    out = shipped.render("acme", "first_reminder", no_credits)
    assert "A dedurre" not in out.text and "Partite in EUR" not in out.text


@pytest.mark.parametrize(
    ("language", "default", "expected"),
    [
        ("it-IT", "it", "Sollecito di pagamento"),
        ("it_IT", "en", "Sollecito di pagamento"),
        ("en-GB", "it", "Overdue payment reminder"),
        ("de", "it", "Sollecito di pagamento"),
        ("de-DE", "en", "Overdue payment reminder"),
        ("", "it", "Sollecito di pagamento"),
        ("not a language", "en", "Overdue payment reminder"),
        ("de", "fr", "Overdue payment reminder"),  # no French templates: English
    ],
)
def test_language_fallback(language: str, default: str, expected: str):
    out = Templates(default_language=default).render("acme", "first_reminder", context(language))
    assert out.subject.startswith(expected + " – ")


def test_fallback_language_formats_in_its_own_locale():
    out = Templates(default_language="it").render("acme", "statement", context("de-DE", "statement"))
    assert f"1.234,56{NBSP}€" in out.text and "14 giugno 2024" in out.text


def test_html_is_escaped_text_is_not(shipped: Templates):
    out = shipped.render("acme", "courtesy", context("it", "courtesy", debtor_name="<b>&", tenant_name="A&B <x>"))
    assert out.text.startswith("Spett.le <b>&\n")
    assert "A&B <x>" in out.subject and "A&B <x>\nUfficio Amministrazione" in out.text
    assert "<p>Spett.le &lt;b&gt;&amp;</p>" in out.html
    assert "A&amp;B &lt;x&gt;" in out.html
    assert "<b>&" not in out.html and "<x>" not in out.html


# ---------------------------------------------------------------------------------------------------------
# Tenant overrides


def test_tenant_override_wins_and_stays_with_its_tenant(tenant_root: Path):
    write(tenant_root, "acme/it/first_reminder.j2",
          "{% block subject %}\n  Acme:\n   sollecito   {{ reference }}\n{% endblock %}\n"
          "{% block text %}Gentile {{ debtor_name }}, dovete {{ sections[0].amount_due|money('EUR') }}"
          " al {{ as_of|date('medium') }}.{% endblock %}\n"
          "{% block html %}<p>{{ debtor_name }}</p>{% endblock %}\n")
    templates = Templates(tenant_root)
    out = templates.render("acme", "first_reminder", context("it", debtor_name="<b>&"))
    assert out == Rendered(subject="Acme: sollecito REM-42",
                           text=f"Gentile <b>&, dovete 1.400,00{NBSP}€ al 14 giu 2024.\n",
                           html="<p>&lt;b&gt;&amp;</p>")
    # another tenant, another language, another step: shipped
    assert templates.render("other", "first_reminder", context("it")).subject.startswith("Sollecito di pagamento")
    assert templates.render("acme", "first_reminder", context("en")).subject.startswith("Overdue payment reminder")
    assert templates.render("acme", "courtesy", context("it")).subject.startswith("Avviso di cortesia")
    assert templates.check("acme") == ["it/first_reminder"]
    assert templates.check("nobody") == []


def test_tenant_without_html_block_and_new_language(tenant_root: Path):
    write(tenant_root, "acme/de/first_reminder.j2",
          message("Sehr geehrte Damen und Herren, {{ sections[0].amount_due|money('EUR') }}"))
    templates = Templates(tenant_root)
    out = templates.render("acme", "first_reminder", context("de-AT"))
    assert out.html is None
    assert out.text == f"Sehr geehrte Damen und Herren, €{NBSP}1.400,00\n"  # de_AT formatting
    assert templates.check("acme") == ["de/first_reminder"]


def test_tenant_template_can_use_shipped_macros(tenant_root: Path):
    write(tenant_root, "acme/it/statement.j2",
          "{% block subject %}Estratto{% endblock %}"
          "{% block text %}{% import '_macros.j2' as m with context %}"
          "Nostro estratto:\n{{ m.partite() }}{% endblock %}")
    out = Templates(tenant_root).render("acme", "statement", context("it"))
    assert out.text.startswith("Nostro estratto:\nPartite in EUR:\n" + IT_LINES)


def test_templates_are_read_once_and_check_reloads(tenant_root: Path):
    path = write(tenant_root, "acme/it/first_reminder.j2", message("prima versione"))
    templates = Templates(tenant_root)
    assert templates.render("acme", "first_reminder", context("it")).text == "prima versione\n"
    path.write_text(message("{{ config }}"), encoding="utf-8")
    # what renders is what was checked: the changed file is not read behind the check's back
    assert templates.render("acme", "first_reminder", context("it")).text == "prima versione\n"
    with pytest.raises(TemplateError, match="unknown variable"):
        templates.check("acme")
    assert templates.render("acme", "first_reminder", context("it")).text == "prima versione\n"
    path.write_text(message("seconda versione"), encoding="utf-8")
    assert templates.check("acme") == ["it/first_reminder"]
    assert templates.render("acme", "first_reminder", context("it")).text == "seconda versione\n"


# ---------------------------------------------------------------------------------------------------------
# The sandbox

HOSTILE = {
    "mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler": "{{ cycler.__init__.__globals__ }}",
    "self": "{{ self._TemplateReference__context }}",
    "config": "{{ config }}",
    "lipsum": "{{ lipsum.__globals__ }}",
    "unknown": "{{ password }}",
    "range": "{% for i in range(10) %}{{ i }}{% endfor %}",
    "namespace": "{% set ns = namespace(a=1) %}{{ ns.a }}",
    "item": "{{ sections['__class__'] }}",
    "attr_filter": "{{ reference|attr('__class__') }}",
    "map_attribute": "{{ sections|map(attribute='__class__')|list }}",
    "dynamic_item": "{% set n = '__cla' ~ 'ss__' %}{{ reference[n] }}",
    "format": "{{ '{0.__class__}'.format(reference) }}",
    "mutation": "{{ sections.append(1) }}",
    "memory": "{{ 'x' * 100000000 }}",
    "power": "{{ 9 ** 99999999 }}",
    "extends": "{% extends 'first_reminder.j2' %}",
    "dynamic_import": "{% import reference as m %}",
    "traversal_import": "{% import '../../other/it/first_reminder.j2' as m %}",
    "conditional": "{% if not locked %}{{ sections.pop() }}{% endif %}ok",
    "recursion": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_template_fails_to_load(tenant_root: Path, name: str):
    path = write(tenant_root, "acme/it/first_reminder.j2", message(HOSTILE[name]))
    with pytest.raises(TemplateError) as at_check:
        Templates(tenant_root).check("acme")
    assert "tenant 'acme'" in str(at_check.value)
    assert "it/first_reminder.j2" in str(at_check.value) and str(path) in str(at_check.value)
    with pytest.raises(TemplateError) as at_render:  # a fresh instance: never checked before first use
        Templates(tenant_root).render("acme", "first_reminder", context("it"))
    assert str(path) in str(at_render.value)
    assert str(at_render.value) == str(at_check.value)


def test_hostile_reasons_are_clear(tenant_root: Path):
    def reason(body: str) -> str:
        write(tenant_root, "acme/it/first_reminder.j2", message(body))
        with pytest.raises(TemplateError) as exc:
            Templates(tenant_root).check("acme")
        return str(exc.value)

    assert reason(HOSTILE["config"]).endswith(
        "unknown variable(s) config; a template may use only as_of, debtor_name, language, locale, locked, "
        "reference, sections, statement_attached, step, tenant_name")
    assert "line 3: access to attribute '__subclasses__' is not allowed" in reason(HOSTILE["mro"])
    assert "line 3: 'self' is not allowed" in reason(HOSTILE["self"])
    assert "unknown variable(s) cycler" in reason(HOSTILE["cycler"])
    assert ("line 3: trial render failed: not allowed in the sandbox: access to attribute 'append' of 'list' "
            "object is unsafe.") in reason(HOSTILE["mutation"])
    assert "trial render failed: undefined:" in reason("{{ sections[0].nothing }}")


def test_hostile_partial_override_fails_the_templates_using_it(tenant_root: Path):
    path = write(tenant_root, "acme/it/_macros.j2", "{% macro partite() %}{{ lipsum.__globals__ }}{% endmacro %}")
    with pytest.raises(TemplateError, match="unknown variable\\(s\\) lipsum") as exc:
        Templates(tenant_root).check("acme")
    assert str(path) in str(exc.value)
    with pytest.raises(TemplateError, match="unknown variable\\(s\\) lipsum"):
        Templates(tenant_root).render("acme", "statement", context("it"))


def test_syntax_error_names_file_and_line(tenant_root: Path):
    path = write(tenant_root, "acme/en/courtesy.j2",
                 "{% block subject %}Hello{% endblock %}\n{% block text %}\nDear {{ debtor_name }\n{% endblock %}\n")
    with pytest.raises(TemplateError) as exc:
        Templates(tenant_root).check("acme")
    message_ = str(exc.value)
    assert message_.startswith(f"tenant 'acme', template en/courtesy.j2 ({path}), line 3: syntax error:")
    with pytest.raises(TemplateError, match="line 3: syntax error"):
        Templates(tenant_root).render("acme", "courtesy", context("en"))


def test_missing_and_unknown_blocks(tenant_root: Path):
    write(tenant_root, "acme/it/courtesy.j2", "{% block text %}x{% endblock %}")
    with pytest.raises(TemplateError, match="missing block\\(s\\) subject"):
        Templates(tenant_root).check("acme")
    write(tenant_root, "acme/it/courtesy.j2", message("x") + "{% block body %}x{% endblock %}")
    with pytest.raises(TemplateError, match="unknown block 'body'"):
        Templates(tenant_root).check("acme")


@pytest.mark.parametrize("template", ["../en/first_reminder", "..", "it/first_reminder", "a\\b", ".hidden", ""])
def test_path_in_template_name_is_refused(tenant_root: Path, template: str):
    with pytest.raises(TemplateError, match="template name .* refused"):
        Templates(tenant_root).render("acme", template, context("it"))


@pytest.mark.parametrize("tenantid", ["..", "../acme", "acme/it", "/etc", "."])
def test_path_in_tenant_id_is_refused(tenant_root: Path, tenantid: str):
    with pytest.raises(TemplateError, match="tenant id .* refused"):
        Templates(tenant_root).render(tenantid, "first_reminder", context("it"))
    with pytest.raises(TemplateError, match="tenant id .* refused"):
        Templates(tenant_root).check(tenantid)


def test_partial_is_not_a_message_and_unknown_template_is_an_error(shipped: Templates):
    with pytest.raises(TemplateError, match="a partial is not a message"):
        shipped.render("acme", "_macros", context("it"))
    with pytest.raises(TemplateError, match="nonexistent.j2: not found in it, en"):
        shipped.render("acme", "nonexistent", context("it"))


def test_render_time_error_is_a_template_error(shipped: Templates):
    bad = dataclasses.replace(context("it"), sections=(dataclasses.replace(context("it").sections[0], currency="eur"),))
    with pytest.raises(TemplateError, match="'eur' is not an ISO 4217 currency code") as exc:
        shipped.render("acme", "first_reminder", bad)
    assert "it/_macros.j2" in str(exc.value)


# ---------------------------------------------------------------------------------------------------------
# Statement of account


def test_statement_csv_parses_back_and_totals_match():
    ctx = context("it")
    filename, content_type, content = statement_csv(ctx)
    assert (filename, content_type) == ("statement-2024-06-14.csv", "text/csv")
    assert content.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in content
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == ["invoice_number", "invoice_id", "installment", "due_date", "days_past_due", "currency",
                             "open_amount", "disputed_amount", "row_type"]
    assert rows[1] == {"invoice_number": "FT-2024/102", "invoice_id": "INV-2", "installment": "2",
                       "due_date": "2024-06-01", "days_past_due": "13", "currency": "EUR", "open_amount": "500.00",
                       "disputed_amount": "200.00", "row_type": "item"}
    assert [(r["row_type"], r["currency"], r["open_amount"]) for r in rows] == [
        ("item", "EUR", "1234.56"),
        ("item", "EUR", "500.00"),
        ("on_account_credit_notes", "EUR", "-100.00"),
        ("on_account_unapplied_cash", "EUR", "-34.56"),
        ("amount_due", "EUR", "1400.00"),
        ("item", "USD", "250.00"),
        ("amount_due", "USD", "250.00"),
    ]
    assert rows[0]["installment"] == ""
    for section in ctx.sections:
        mine = [r for r in rows if r["currency"] == section.currency]
        asked = sum(Decimal(r["open_amount"]) - Decimal(r["disputed_amount"] or "0")
                    for r in mine if r["row_type"] != "amount_due")
        (total,) = [Decimal(r["open_amount"]) for r in mine if r["row_type"] == "amount_due"]
        assert asked == total == section.amount_due
        for r in mine:
            if r["row_type"] == "item":
                assert date.fromisoformat(r["due_date"])


def test_statement_csv_quotes_awkward_values():
    ctx = context("en")
    odd = dataclasses.replace(ctx.sections[1], lines=(dataclasses.replace(ctx.sections[1].lines[0],
                                                                          number='A, "B"\nC'),))
    _, _, content = statement_csv(dataclasses.replace(ctx, sections=(odd,)))
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows[1][0] == 'A, "B"\nC'
    assert len(rows) == 3
