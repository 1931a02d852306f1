"""`softcollect import`: CSV rows become inbound events on the tenant's inbound topic (real
broker), bad rows go to a rejects file with the column and the reason, and re-importing a
file sends the very same event ids."""

from __future__ import annotations

import asyncio
import codecs
import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from softcollect_cli.main import main
from softcollect_events import decode, deterministic_id, topic_name
from softcollect_ingest import csv_import
from softcollect_ingest.domain import TenantFacts
from softcollect_runtime.kafka import ensure_topics
from softcollect_runtime.settings import KafkaSettings
from tests.support import bootstrap, read_all, unique, wait_for_records

TENANT = "acme"
INVOICE_HEADER = ("customer_id,invoice_id,number,issue_date,due_date,currency,amount,"
                  "installment_1_due_date,installment_1_amount,installment_2_due_date,installment_2_amount")
GOOD_INVOICES = [
    "C-1,INV-1,2024/1,2024-04-02,2024-05-31,EUR,1250.00,,,,",
    "C-1,INV-2,2024/2,2024-04-02,2024-06-30,EUR,3000,2024-05-31,1500.00,2024-06-30,1500",
    "C-2,INV-3,2024/3,2024-04-03,2024-05-31,JPY,120000,,,,",
]


class Env:
    def __init__(self, tmp_path: Path, bootstrap: str) -> None:
        self.dir = tmp_path
        self.prefix = unique("csv") + "."
        self.topic = topic_name("inbound", self.prefix, tenantid=TENANT)
        self.kafka = KafkaSettings(bootstrap_servers=bootstrap)

    def write(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.dir / name
        path.write_bytes(text.encode(encoding))
        return path

    async def run(self, *argv: str) -> int:
        # main() runs its own event loop (asyncio.run): give it a thread of its own.
        return await asyncio.to_thread(main, ["import", "--tenant", TENANT, *argv])


@pytest.fixture
async def env(tmp_path, monkeypatch, kafka_bootstrap):
    e = Env(tmp_path, kafka_bootstrap)
    (tmp_path / "config" / "tenants").mkdir(parents=True)
    (tmp_path / "config" / "tenants" / f"{TENANT}.yaml").write_text("name: Acme S.p.A.\n")
    for name, value in {"SOFTCOLLECT_TOPIC_PREFIX": e.prefix, "SOFTCOLLECT_CONFIG_DIR": str(tmp_path / "config"),
                        "SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}.items():
        monkeypatch.setenv(name, value)
    await ensure_topics(e.kafka, [e.topic], partitions=3)
    return e


def invoices(*rows: str, header: str = INVOICE_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def rejects_of(path: Path) -> dict[int, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        text = f.read()
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return {int(r["line"]): r for r in csv.DictReader(io.StringIO(text), delimiter=delimiter)}


async def test_good_invoices_all_land_on_the_inbound_topic(env, capsys):
    path = env.write("invoices.csv", invoices(*GOOD_INVOICES))
    assert await env.run("--kind", "invoices", str(path)) == 0
    assert capsys.readouterr().out.strip() == "imported 3 rows: 3 accepted, 0 rejected"
    records = await wait_for_records(env.topic, 3)
    by_subject = {}
    for r in records:
        event = decode(r.value)  # the contract's own decoder: what ingest will do with it
        by_subject[event.subject] = (r, event, json.loads(r.value))
    assert set(by_subject) == {"INV-1", "INV-2", "INV-3"}
    r, event, body = by_subject["INV-2"]
    assert r.key == b"acme:C-1"
    assert event.type == "invoice.issued" and event.source == "csv/invoices.csv" and event.tenantid == TENANT
    assert event.id == deterministic_id("csv", TENANT, "invoices", "INV-2")
    assert body["data"]["amount"] == "3000"  # money exactly as written
    assert body["data"]["installments"] == [{"due_date": "2024-05-31", "amount": "1500.00"},
                                            {"due_date": "2024-06-30", "amount": "1500"}]
    assert event.time.tzinfo is not None and body["time"].endswith("Z")
    assert "installments" not in by_subject["INV-1"][2]["data"]  # empty cells: absent, not ""
    assert by_subject["INV-3"][0].key == b"acme:C-2"
    assert len(await read_all(env.topic)) == 3
    assert not (env.dir / "invoices.rejects.csv").exists()


async def test_bad_rows_are_listed_in_the_rejects_file_and_not_sent(env, capsys):
    path = env.write("march.csv", invoices(
        "C-1,INV-10,2024/10,2024-04-02,2024-05-31,EUR,1250.5,,,,",  # line 2: fine, one decimal is a decimal
        "C-1,INV-11,2024/11,2024-04-02,2024-05-31,EUR,12.345,,,,",  # line 3: three places for EUR
        "C-1,INV-12,2024/12,2024-04-02,2024-05-31,EUR,-100.00,,,,",  # line 4: negative
        "C-1,INV-13,2024/13,2024-04-02,,EUR,100.00,,,,",  # line 5: no due date
        "C-1,INV-14,2024/14,2024-02-30,2024-05-31,EUR,100.00,,,,",  # line 6: no such day
        "C-1,INV-15,2024/15,2024-04-02,2024-06-30,EUR,100.00,2024-05-31,50.00,2024-06-30,40.00",  # line 7: sum
        "C-1,INV-16,2024/16,2024-04-02,2024-05-31,EUR,1.000,,,,",  # line 8: trailing zeros count
        "C-1,INV-17,2024/17,2024-04-02,2024-06-30,EUR,100.00,2024-05-31,100.00,,",  # line 9: fine
    ))
    rejects = env.dir / "march-bad.csv"
    assert await env.run("--kind", "invoices", str(path), "--rejects", str(rejects)) == 1
    assert capsys.readouterr().out.strip() == f"imported 8 rows: 2 accepted, 6 rejected (see {rejects})"

    bad = rejects_of(rejects)
    assert sorted(bad) == [3, 4, 5, 6, 7, 8]
    assert bad[3]["reasons"] == "amount: amount has 3 decimal places but EUR allows at most 2"
    assert bad[3]["amount"] == "12.345" and bad[3]["invoice_id"] == "INV-11"  # the original cells, as written
    assert bad[4]["reasons"] == "amount: must be greater than 0"
    assert bad[5]["reasons"] == "due_date: required, but no value is given"
    assert bad[6]["reasons"] == "issue_date: '2024-02-30' is not a calendar date"
    assert bad[7]["reasons"].startswith("installment_*: installments sum to 90.00 but amount is 100.00")
    assert bad[8]["reasons"].startswith("amount: amount has 3 decimal places")
    assert list(bad[3]) == ["line", *INVOICE_HEADER.split(","), "reasons"]

    sent = [decode(r.value) for r in await read_all(env.topic)]
    assert sorted(e.subject for e in sent) == ["INV-10", "INV-17"]


async def test_reimporting_a_file_sends_the_same_event_ids(env, capsys):
    path = env.write("invoices.csv", invoices(*GOOD_INVOICES))
    assert await env.run("--kind", "invoices", str(path)) == 0
    assert await env.run("--kind", "invoices", str(path)) == 0
    records = await wait_for_records(env.topic, 6)
    ids: dict[str, list[str]] = {}
    for r in records:
        event = decode(r.value)
        ids.setdefault(event.subject, []).append(event.id)
    assert {s: len(set(v)) for s, v in ids.items()} == {"INV-1": 1, "INV-2": 1, "INV-3": 1}
    assert all(len(v) == 2 for v in ids.values())


async def test_a_customer_whose_row_changed_gets_a_new_id(env):
    header = "customer_id,name,emails,phone,language,country,segment,credit_limit,currency,account_manager"
    first = env.write("customers.csv", f"{header}\nC-1,Rossi Srl,ap@rossi.example,,it,IT,,,,\n")
    changed = env.write("customers2.csv", f"{header}\nC-1,Rossi Srl,ar@rossi.example; ap@rossi.example,,it,IT,,,,\n")
    for path in (first, first, changed):
        assert await env.run("--kind", "customers", "--source", "erp/acme-crm", str(path)) == 0
    events = [decode(r.value) for r in await wait_for_records(env.topic, 3)]
    assert [e.source for e in events] == ["erp/acme-crm"] * 3
    assert events[0].id == events[1].id != events[2].id  # same row, same id; a change is a new fact
    assert events[2].data.emails == ["ar@rossi.example", "ap@rossi.example"]


async def test_a_missing_column_is_named_and_nothing_is_sent(env, capsys):
    header = INVOICE_HEADER.replace("due_date,", "", 1)
    path = env.write("invoices.csv", invoices(*[",".join(r.split(",")[:4] + r.split(",")[5:]) for r in GOOD_INVOICES],
                                              header=header))
    assert await env.run("--kind", "invoices", str(path)) == 2
    err = capsys.readouterr().err
    assert "missing required column 'due_date'" in err and str(path) in err
    assert await read_all(env.topic) == []
    assert not (env.dir / "invoices.rejects.csv").exists()


async def test_utf8_bom_and_semicolons_with_decimal_commas_rejected_by_column(env, capsys):
    text = ("customer_id;payment_id;amount;currency;value_date;invoice_refs;remittance;method\r\n"
            'C-1;PAY-1;1250.00;EUR;2024-06-03;"2024/1; 2024/2";Saldo fatture 2024/1 e 2024/2;bank_transfer\r\n'
            "C-2;PAY-2;1250,00;EUR;2024-06-03;;;\r\n"
            'C-3;PAY-3;99.90;EUR;2024-06-04;;"Acconto, grazie";\r\n')
    path = env.write("pagamenti.csv", "\ufeff" + text)
    assert await env.run("--kind", "payments", str(path)) == 1
    rejects = env.dir / "pagamenti.rejects.csv"
    assert capsys.readouterr().out.strip() == f"imported 3 rows: 2 accepted, 1 rejected (see {rejects})"
    events = {e.subject: e for e in (decode(r.value) for r in await read_all(env.topic))}
    assert set(events) == {"PAY-1", "PAY-3"}
    assert events["PAY-1"].data.invoice_refs == ["2024/1", "2024/2"]
    assert events["PAY-1"].customerid == "C-1"  # the BOM is not part of the first column's name
    assert events["PAY-3"].data.remittance == "Acconto, grazie"
    assert rejects.read_bytes().startswith(codecs.BOM_UTF8)  # written back the way it came: BOM, semicolons
    [(line, row)] = rejects_of(rejects).items()
    assert line == 3 and row["amount"] == "1250,00"
    assert row["reasons"].startswith('amount: money must be a plain decimal string like "12.50"')


@pytest.mark.parametrize(("argv", "message"), [
    (["--tenant", "ghost", "--kind", "invoices", "{file}"], "tenant 'ghost' is not configured"),
    (["--tenant", TENANT, "--kind", "invoices", "{dir}/nope.csv"], "nope.csv: no such file"),
    (["--tenant", TENANT, "--kind", "payments", "{file}"], "missing required columns 'payment_id', 'value_date'"),
    (["--tenant", TENANT, "--kind", "invoices", "--source", "my files", "{file}"], "--source 'my files'"),
])
async def test_usage_errors_exit_2_naming_the_problem(env, capsys, argv, message):
    path = env.write("invoices.csv", invoices(*GOOD_INVOICES))
    argv = [a.format(file=path, dir=env.dir) for a in argv]
    assert await asyncio.to_thread(main, ["import", *argv]) == 2
    assert message in capsys.readouterr().err
    assert await read_all(env.topic) == []


async def test_a_tenant_without_its_inbound_topic_is_a_setup_error(env, capsys):
    (env.dir / "config" / "tenants" / "newco.yaml").write_text("name: NewCo\n")
    path = env.write("invoices.csv", invoices(*GOOD_INVOICES))
    assert await asyncio.to_thread(main, ["import", "--tenant", "newco", "--kind", "invoices", str(path)]) == 2
    assert f"topic {env.prefix}inbound.newco does not exist" in capsys.readouterr().err


async def test_a_file_name_with_spaces_makes_a_valid_source(env):
    path = env.write("march invoices.csv", invoices(GOOD_INVOICES[0]))
    assert await env.run("--kind", "invoices", str(path)) == 0
    [record] = await wait_for_records(env.topic, 1)
    assert decode(record.value).source == "csv/march%20invoices.csv"


# --- the pure part, without the broker ----------------------------------------------------------

FACTS = {TENANT: TenantFacts(TENANT, False)}
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def check(kind: str, text: str) -> list[csv_import.Checked]:
    table = csv_import.parse_table(text.encode())
    csv_import.check_header(csv_import.KINDS[kind], table.columns)
    return list(csv_import.plan(table, csv_import.KINDS[kind], tenant=TENANT, source="csv/t.csv", tenants=FACTS,
                                now=NOW, max_event_bytes=256 * 1024))


def test_a_key_twice_in_one_file_is_refused_the_second_time():
    rows = check("credit_notes", "customer_id,credit_note_id,amount,currency,issue_date,invoice_id\n"
                 "C-1,CN-1,10.00,EUR,2024-05-10,INV-1\nC-1,CN-1,10.00,EUR,2024-05-10,\n")
    assert rows[0].event is not None and rows[0].event.data.invoice_id == "INV-1"
    assert rows[1].problems == "credit_note_id: 'CN-1' is already on line 2 of this file; one row per key"


def test_list_items_and_envelope_reasons_name_their_column():
    rows = check("customers", "customer_id,name,emails,credit_limit\n"
                 'bad:id,Rossi,"ap@rossi.example;not-an-address",\n'
                 "C-2,Bianchi,,100.00\n")
    assert rows[0].problems == ('customer_id: must be 1-64 characters of A-Z a-z 0-9 . _ -; emails (item 2): must be '
                                'an e-mail address like "ap@example.com"')
    assert rows[1].problems == "currency: required, but no value is given"  # the column is optional, not with a limit


def test_line_numbers_count_lines_not_rows():
    rows = check("payments", "customer_id,payment_id,amount,currency,value_date,remittance\n"
                 '\nC-1,P-1,1.00,EUR,2024-06-03,"two\nlines"\nC-1,P-2,x,EUR,2024-06-03,\n')
    assert [r.row.line for r in rows] == [3, 5]
    assert rows[0].event.data.remittance == "two\nlines"


def test_header_problems_are_all_named_at_once():
    with pytest.raises(csv_import.UsageError) as err:
        csv_import.check_header(csv_import.KINDS["invoices"], [
            "customer_id", "invoice_id", "numbr", "issue_date", "due_date", "currency", "amount", "amount",
            "installment_1_due_date"])
    text = str(err.value)
    assert "column 'amount' appears twice" in text
    assert "missing required column 'number'" in text
    assert "unknown column 'numbr' (did you mean 'number'?)" in text
    assert "missing column 'installment_1_amount'" in text


# --- through a real ingest worker ---------------------------------------------------------------


async def test_imported_rows_are_routed_by_ingest_and_a_reimport_has_no_second_effect(ingest, tmp_path,
                                                                                       monkeypatch):
    for name, value in {"SOFTCOLLECT_TOPIC_PREFIX": ingest.prefix, "SOFTCOLLECT_CONFIG_DIR": str(ingest.config_dir),
                        "SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS": bootstrap()}.items():
        monkeypatch.setenv(name, value)
    customer = unique("C-")  # one debtor: one partition, so ingest handles the rows in file order
    first = tmp_path / "first.csv"
    first.write_text(invoices(*[f"{customer},{unique('INV-')},2024/{n},2024-04-02,2024-05-31,EUR,{n}00.00,,,,"
                                for n in range(1, 4)]))
    later = tmp_path / "later.csv"
    later.write_text(invoices(f"{customer},{unique('INV-')},2024/9,2024-04-02,2024-05-31,EUR,900.00,,,,"))

    def run(path: Path) -> int:
        return main(["import", "--tenant", "acme", "--kind", "invoices", str(path)])

    invoices_topic = ingest.topic("invoices")

    def mine(r) -> bool:
        return json.loads(r.value)["customerid"] == customer

    assert await asyncio.to_thread(run, first) == 0
    routed = await wait_for_records(invoices_topic, 3, where=mine)
    assert {json.loads(r.value)["source"] for r in routed} == {"csv/first.csv"}
    assert await asyncio.to_thread(run, first) == 0  # the same file again
    assert await asyncio.to_thread(run, later) == 0  # behind it on the same partition
    await wait_for_records(invoices_topic, 4, where=mine)
    ids = [json.loads(r.value)["id"] for r in await read_all(invoices_topic) if mine(r)]
    assert len(ids) == 4 and len(set(ids)) == 4  # the re-imported rows were dropped as duplicates
