"""CSV import (storage/importer.py) against shared/spec/data.md, on SQLite and on Postgres.

Every rule of the contract has a case with the exact message a user sees; then atomicity,
idempotence, usage slices, time zones, folders and the problem count.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select

import storage.importer as importer
from storage.importer import CsvImportError, FileSummary, import_paths
from storage.models import Account, Base, Cost, ImportRun, Invoice, Revenue, Survey, Ticket, UsageEvent

ACCOUNT_COLUMNS = (
    "account_id, name, segment, owner_slack_id, owner_email, signed_up_at, became_customer_at, first_value_at, "
    "churned_at, acquisition_source, renewal_date"
)
ACCOUNTS = "account_id,name,signed_up_at,became_customer_at\nA1,Acme,2026-01-05,2026-01-10\nA2,Beta,2026-01-06,\n"


def write_files(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        paths.append(path)
    return paths


def run(store: Engine, folder: Path, files: dict[str, str], **kwargs) -> importer.ImportReport:
    return import_paths(store, write_files(folder, files), **kwargs)


def problems_of(store: Engine, folder: Path, files: dict[str, str], **kwargs) -> list[str]:
    with pytest.raises(CsvImportError) as caught:
        run(store, folder, files, **kwargs)
    return caught.value.problems


def table_rows(store: Engine, model, *, skip: tuple[str, ...] = ()) -> list[tuple]:
    """Every row of `model` (a model class or a bare Table, such as slack_sdk's installation tables)."""
    table = getattr(model, "__table__", model)
    columns = [c for c in table.columns if c.name not in skip]
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(*columns))]


def snapshot(store: Engine, *, with_usage_ids: bool = True) -> dict[str, list[tuple]]:
    """Every row of every table (usage ids optional: a slice replacement gives new ids)."""
    out = {}
    for table in Base.metadata.sorted_tables:
        skip = ("id",) if table.name == "usage_events" and not with_usage_ids else ()
        out[table.name] = table_rows(store, table, skip=skip)
    return out


def count(store: Engine, model) -> int:
    with store.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


# --- one case per rule of data.md ----------------------------------------------------------------

RULES = {
    "missing required column": (
        {"accounts.csv": "account_id,signed_up_at\nA1,2026-01-05\n"},
        [f"accounts.csv:1: name: required column is missing from the header; add it (columns: {ACCOUNT_COLUMNS})"],
    ),
    "misspelled required column": (
        {"accounts.csv": "account_id,nmae,signed_up_at\nA1,Acme,2026-01-05\n"},
        ["accounts.csv:1: name: required column is missing from the header; rename 'nmae' to name"],
    ),
    "column twice in header": (
        {"accounts.csv": "account_id,name,name,signed_up_at\nA1,Acme,Acme,2026-01-05\n"},
        ["accounts.csv:1: name: appears twice in the header; keep one"],
    ),
    "semicolon separated": (
        {"costs.csv": "month;category;amount\n2026-01;retention;1\n"},
        [
            f"costs.csv:1: {column}: required column is missing from the header; the file seems to use ';' - "
            "save it with ','"
            for column in ("month", "category", "amount")
        ],
    ),
    "required cell empty": (
        {"accounts.csv": "account_id,name,signed_up_at\nA1,,2026-01-05\n"},
        ["accounts.csv:2: name: is empty; this column is required, fill it in"],
    ),
    "blank required cell": (
        {"accounts.csv": "account_id,name,signed_up_at\n   ,Acme,2026-01-05\n"},
        ["accounts.csv:2: account_id: is empty; this column is required, fill it in"],
    ),
    "date format": (
        {"accounts.csv": "account_id,name,signed_up_at\nA1,Acme,2026-01-05\nA2,Beta,2026/01/05\n"},
        ["accounts.csv:3: signed_up_at: '2026/01/05' is not a date; use YYYY-MM-DD"],
    ),
    "date that does not exist": (
        {"accounts.csv": "account_id,name,signed_up_at\nA1,Acme,2026-02-30\n"},
        ["accounts.csv:2: signed_up_at: '2026-02-30' is not a date (no such day); use YYYY-MM-DD"],
    ),
    "became customer before sign-up": (
        {"accounts.csv": "account_id,name,signed_up_at,became_customer_at\nA1,Acme,2026-01-05,2026-01-01\n"},
        ["accounts.csv:2: became_customer_at: 2026-01-01 is before signed_up_at 2026-01-05; it must be on or after it"],
    ),
    "churned not after conversion": (
        {
            "accounts.csv": "account_id,name,signed_up_at,became_customer_at,churned_at\n"
            "A1,Acme,2026-01-05,2026-02-01,2026-02-01\n"
        },
        ["accounts.csv:2: churned_at: 2026-02-01 is not after became_customer_at 2026-02-01; it must be later"],
    ),
    "churned without conversion": (
        {"accounts.csv": "account_id,name,signed_up_at,churned_at\nA1,Acme,2026-01-05,2026-02-01\n"},
        [
            "accounts.csv:2: churned_at: is set but became_customer_at is empty; "
            "fill in became_customer_at or clear churned_at"
        ],
    ),
    "text longer than the column": (
        {"accounts.csv": f"account_id,name,signed_up_at\n{'x' * 129},Acme,2026-01-05\n"},
        ["accounts.csv:2: account_id: is 129 characters long; at most 128 are allowed"],
    ),
    "month format": (
        {"accounts.csv": ACCOUNTS, "revenue.csv": "account_id,month,mrr\nA1,2026-13,10\nA1,2026-01-01,10\n"},
        [
            "revenue.csv:2: month: '2026-13' is not a month; use YYYY-MM (e.g. 2026-03)",
            "revenue.csv:3: month: '2026-01-01' is not a month; use YYYY-MM (e.g. 2026-03)",
        ],
    ),
    "mrr negative": (
        {"accounts.csv": ACCOUNTS, "revenue.csv": "account_id,month,mrr\nA1,2026-01,-5.00\n"},
        ["revenue.csv:2: mrr: -5.00 is negative; it must be >= 0"],
    ),
    "money with 3 decimals": (
        {"accounts.csv": ACCOUNTS, "revenue.csv": "account_id,month,mrr\nA1,2026-01,10.125\n"},
        ["revenue.csv:2: mrr: '10.125' has more than 2 decimals; round it to cents"],
    ),
    "money with currency sign": (
        {"accounts.csv": ACCOUNTS, "invoices.csv": "invoice_id,account_id,issued_at,amount\nI1,A1,2026-01-10,$10\n"},
        ["invoices.csv:2: amount: '$10' has a currency sign or code; write the plain number, e.g. 1234.50"],
    ),
    "money with thousands separator": (
        {
            "accounts.csv": ACCOUNTS,
            "invoices.csv": 'invoice_id,account_id,issued_at,amount\nI1,A1,2026-01-10,"1,000"\n',
        },
        [
            "invoices.csv:2: amount: '1,000' is not an amount; "
            "write it without thousands separators and with a dot, e.g. 1234.50"
        ],
    ),
    "money not a number": (
        {"accounts.csv": ACCOUNTS, "costs.csv": "month,category,amount\n2026-01,retention,lots\n"},
        ["costs.csv:2: amount: 'lots' is not an amount; use a decimal number, e.g. 1234.50"],
    ),
    "invoice amount negative": (
        {"accounts.csv": ACCOUNTS, "invoices.csv": "invoice_id,account_id,issued_at,amount\nI1,A1,2026-01-10,-1\n"},
        ["invoices.csv:2: amount: -1 is negative; it must be >= 0"],
    ),
    "survey kind": (
        {
            "accounts.csv": ACCOUNTS,
            "surveys.csv": "response_id,account_id,survey,score,responded_at\nR1,A1,promoter,9,2026-03-04T10:00:00Z\n",
        },
        ["surveys.csv:2: survey: 'promoter' is not a survey kind; use nps, csat or ces"],
    ),
    "score ranges": (
        {
            "accounts.csv": ACCOUNTS,
            "surveys.csv": "response_id,account_id,survey,score,responded_at\n"
            "R1,A1,nps,11,2026-03-04T10:00:00Z\nR2,A1,csat,0,2026-03-04T10:00:00Z\n"
            "R3,A1,ces,6,2026-03-04T10:00:00Z\nR4,A1,nps,-1,2026-03-04T10:00:00Z\n"
            "R5,A1,nps,0,2026-03-04T10:00:00Z\nR6,A1,csat,5,2026-03-04T10:00:00Z\n",
        },
        [
            "surveys.csv:2: score: 11 is outside 0-10 for nps",
            "surveys.csv:3: score: 0 is outside 1-5 for csat",
            "surveys.csv:4: score: 6 is outside 1-5 for ces",
            "surveys.csv:5: score: -1 is outside 0-10 for nps",
        ],
    ),
    "int not whole": (
        {
            "accounts.csv": ACCOUNTS,
            "surveys.csv": "response_id,account_id,survey,score,responded_at\nR1,A1,csat,4.5,2026-03-04T10:00:00Z\n",
        },
        ["surveys.csv:2: score: '4.5' is not a whole number"],
    ),
    "datetime format": (
        {
            "accounts.csv": ACCOUNTS,
            "surveys.csv": "response_id,account_id,survey,score,responded_at\nR1,A1,nps,9,04/03/2026 10:00\n",
        },
        [
            "surveys.csv:2: responded_at: '04/03/2026 10:00' is not a datetime; use ISO 8601, e.g. "
            "2026-03-04T10:15:00Z, 2026-03-04T12:15:00+02:00 or 2026-03-04 10:15:00 (no offset = the reporting "
            "time zone)"
        ],
    ),
    "ticket resolved before opened": (
        {
            "accounts.csv": ACCOUNTS,
            "tickets.csv": "ticket_id,account_id,opened_at,resolved_at\n"
            "T1,A1,2026-03-04T10:00:00Z,2026-03-04T11:30:00+02:00\n",
        },
        [
            "tickets.csv:2: resolved_at: '2026-03-04T11:30:00+02:00' is before opened_at '2026-03-04T10:00:00Z'; "
            "it must not be"
        ],
    ),
    "ticket contacts below 1": (
        {
            "accounts.csv": ACCOUNTS,
            "tickets.csv": "ticket_id,account_id,opened_at,contacts\nT1,A1,2026-03-04T10:00:00Z,0\n",
        },
        ["tickets.csv:2: contacts: 0 is below 1; it must be >= 1 (1 = resolved at first contact)"],
    ),
    "ticket priority": (
        {
            "accounts.csv": ACCOUNTS,
            "tickets.csv": "ticket_id,account_id,opened_at,priority\nT1,A1,2026-03-04T10:00:00Z,p1\n",
        },
        ["tickets.csv:2: priority: 'p1' is not a priority; use low, normal, high or urgent"],
    ),
    "usage duration negative": (
        {
            "accounts.csv": ACCOUNTS,
            "usage.csv": "account_id,user_id,occurred_at,duration_seconds\nA1,u1,2026-03-04T10:00:00Z,-3\n",
        },
        ["usage.csv:2: duration_seconds: -3 is below 0; it must be >= 0"],
    ),
    "cost category": (
        {"costs.csv": "month,category,amount\n2026-01,sales,100\n"},
        ["costs.csv:2: category: 'sales' is not a cost category; use acquisition or retention"],
    ),
    "unknown account": (
        {
            "accounts.csv": ACCOUNTS,
            "invoices.csv": "invoice_id,account_id,issued_at,amount\nI1,A1,2026-01-10,10\nI2,A9,2026-01-10,10\n",
        },
        ["invoices.csv:3: account_id: 'A9' is not a known account; add it to accounts.csv or fix the id"],
    ),
    "duplicate key": (
        {
            "accounts.csv": ACCOUNTS,
            "tickets.csv": "ticket_id,account_id,opened_at\nT1,A1,2026-03-04T10:00:00Z\nT2,A1,2026-03-04T10:00:00Z\n"
            "T1,A2,2026-03-05T10:00:00Z\n",
        },
        ["tickets.csv:4: ticket_id: 'T1' is on lines 2 and 4; keep one row per key"],
    ),
    "duplicate composite key (empty product = core)": (
        {"accounts.csv": ACCOUNTS, "revenue.csv": "account_id,month,product,mrr\nA1,2026-01,,10\nA1,2026-01,core,12\n"},
        [
            "revenue.csv:3: account_id, month, product: 'A1', '2026-01', 'core' is on lines 2 and 3; "
            "keep one row per key"
        ],
    ),
    "duplicate account": (
        {"accounts.csv": "account_id,name,signed_up_at\n007,Acme,2026-01-05\n007,Acme again,2026-01-05\n"},
        ["accounts.csv:3: account_id: '007' is on lines 2 and 3; keep one row per key"],
    ),
    "row with too many cells": (
        {"accounts.csv": "account_id,name,signed_up_at\nA1,Acme, Inc.,2026-01-05\n"},
        ["accounts.csv:2: has 4 cells but the header has 3 columns; quote cells that contain commas"],
    ),
    "empty file": (
        {"costs.csv": ""},
        ["costs.csv:1: the file is empty; it needs a header row: month,category,amount"],
    ),
}


@pytest.mark.parametrize("files, expected", RULES.values(), ids=RULES.keys())
def test_each_rule_is_reported_with_its_message(store, tmp_path, files, expected):
    assert problems_of(store, tmp_path, files) == expected
    assert count(store, Account) == 0  # nothing written, not even the valid accounts.csv
    assert count(store, ImportRun) == 0


def test_unknown_file_name_names_the_accepted_ones(store, tmp_path):
    problems = problems_of(store, tmp_path, {"accounts.csv": ACCOUNTS, "contacts.csv": "a,b\n1,2\n"})
    assert problems == [
        "contacts.csv: unknown file name; name each file after what it holds: accounts.csv, revenue.csv, "
        "invoices.csv, surveys.csv, tickets.csv, usage.csv, costs.csv"
    ]
    assert count(store, Account) == 0


def test_missing_path_and_unknown_time_zone(store, tmp_path):
    with pytest.raises(CsvImportError) as caught:
        import_paths(store, [tmp_path / "nope.csv"])
    assert caught.value.problems == [f"{tmp_path / 'nope.csv'}: no such file or folder"]
    with pytest.raises(CsvImportError) as caught:
        import_paths(store, write_files(tmp_path, {"accounts.csv": ACCOUNTS}), reporting_tz="Mars/Olympus")
    assert caught.value.problems == [
        "reporting_tz: 'Mars/Olympus' is not a known time zone; use an IANA name such as Europe/Berlin"
    ]


def test_problems_of_every_file_are_listed_together(store, tmp_path):
    problems = problems_of(
        store,
        tmp_path,
        {
            "costs.csv": "month,category,amount\n2026-01,sales,1\n",
            "accounts.csv": "account_id,name,signed_up_at\nA1,,2026-01-05\n",
            "revenue.csv": "account_id,month,mrr\nA1,2026-01,x\nB7,2026-01,1\n",
        },
    )
    assert problems == [
        "accounts.csv:2: name: is empty; this column is required, fill it in",
        "revenue.csv:2: mrr: 'x' is not an amount; use a decimal number, e.g. 1234.50",
        "revenue.csv:3: account_id: 'B7' is not a known account; add it to accounts.csv or fix the id",
        "costs.csv:2: category: 'sales' is not a cost category; use acquisition or retention",
    ]


def test_more_than_50_problems_shows_50_and_counts_the_rest(store, tmp_path):
    body = "".join(f"A{i},Acme,yesterday\n" for i in range(60))
    with pytest.raises(CsvImportError) as caught:
        run(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at\n" + body})
    error = caught.value
    assert error.total == 60 and len(error.problems) == 60
    lines = str(error).splitlines()
    assert len(lines) == 51
    assert lines[0] == "accounts.csv:2: signed_up_at: 'yesterday' is not a date; use YYYY-MM-DD"
    assert lines[49] == "accounts.csv:51: signed_up_at: 'yesterday' is not a date; use YYYY-MM-DD"
    assert lines[50] == "... and 10 more problems"


def test_unnamed_and_repeated_unknown_columns_are_only_warned_about(store, tmp_path):
    report = run(store, tmp_path, {"costs.csv": "month,category,amount,note,note,,\n2026-01,retention,1,a,b,,\n"})
    known = "known: month, category, amount"
    assert report.files[0].warnings == (
        f"costs.csv:1: note: unknown column, ignored ({known})",
        f"costs.csv:1: (blank): unknown column, ignored ({known})",
    )
    assert table_rows(store, Cost) == [(dt.date(2026, 1, 1), "retention", Decimal("1.00"))]


def test_extra_column_is_ignored_with_a_warning(store, tmp_path):
    report = run(store, tmp_path, {"accounts.csv": "account_id,colour,name,signed_up_at\nA1,red,Acme,2026-01-05\n"})
    assert report.files[0].warnings == (f"accounts.csv:1: colour: unknown column, ignored (known: {ACCOUNT_COLUMNS})",)
    assert table_rows(store, Account)[0][:2] == ("A1", "Acme")


# --- values as stored ----------------------------------------------------------------------------

FULL = {
    "accounts.csv": "account_id,name,segment,owner_slack_id,signed_up_at,became_customer_at,first_value_at,"
    "churned_at,acquisition_source,renewal_date\n"
    "007,Acme,smb,U0123ABCD,2026-01-05,2026-01-10,2026-01-20,2026-06-01,referral,2027-01-10\n"
    "0042,Beta,,,2026-01-06,,,,,\n",
    "revenue.csv": "account_id,month,product,mrr\n007,2026-01,,100.5\n007,2026-01,addon,20\n",
    "invoices.csv": "invoice_id,account_id,issued_at,amount\n00017,007,2026-01-10,1200.00\n",
    "surveys.csv": "response_id,account_id,survey,score,responded_at,contact,comment\n"
    '001,007,NPS,9,2026-03-04T10:15:00Z,a@acme.test,"Great, thanks"\n002,0042,ces,5,2026-03-05T08:00:00Z,,\n',
    "tickets.csv": "ticket_id,account_id,opened_at,resolved_at,contacts,priority\n"
    "T-01,007,2026-03-04T10:00:00Z,2026-03-04T12:00:00Z,1,High\nT-02,0042,2026-03-05T10:00:00Z,,,\n",
    "usage.csv": "account_id,user_id,occurred_at,feature,duration_seconds\n"
    "007,0001,2026-03-04T10:00:00Z,report,30\n0042,0001,2026-03-04T11:00:00Z,,\n",
    "costs.csv": "month,category,amount\n2026-01,acquisition,5000\n2026-01,retention,1500.25\n",
}


def test_values_are_stored_exactly(store, tmp_path):
    report = run(store, tmp_path, FULL)
    assert [f.kind for f in report.files] == ["accounts", "revenue", "invoices", "surveys", "tickets", "usage", "costs"]
    assert table_rows(store, Account, skip=("owner_email",)) == [
        ("0042", "Beta", None, None, dt.date(2026, 1, 6), None, None, None, None, None),
        (
            "007",
            "Acme",
            "smb",
            "U0123ABCD",
            dt.date(2026, 1, 5),
            dt.date(2026, 1, 10),
            dt.date(2026, 1, 20),
            dt.date(2026, 6, 1),
            "referral",
            dt.date(2027, 1, 10),
        ),
    ]
    assert table_rows(store, Revenue) == [
        ("007", dt.date(2026, 1, 1), "addon", Decimal("20.00")),
        ("007", dt.date(2026, 1, 1), "core", Decimal("100.50")),
    ]
    assert table_rows(store, Invoice) == [("00017", "007", dt.date(2026, 1, 10), Decimal("1200.00"))]
    assert table_rows(store, Survey) == [
        ("001", "007", "nps", 9, dt.datetime(2026, 3, 4, 10, 15), "a@acme.test", "Great, thanks"),
        ("002", "0042", "ces", 5, dt.datetime(2026, 3, 5, 8, 0), None, None),
    ]
    assert table_rows(store, Ticket) == [
        ("T-01", "007", dt.datetime(2026, 3, 4, 10), dt.datetime(2026, 3, 4, 12), 1, "high"),
        ("T-02", "0042", dt.datetime(2026, 3, 5, 10), None, None, None),
    ]
    assert table_rows(store, UsageEvent, skip=("id",)) == [
        ("0042", "0001", dt.datetime(2026, 3, 4, 11), None, None),
        ("007", "0001", dt.datetime(2026, 3, 4, 10), "report", 30),
    ]
    assert table_rows(store, Cost) == [
        (dt.date(2026, 1, 1), "acquisition", Decimal("5000.00")),
        (dt.date(2026, 1, 1), "retention", Decimal("1500.25")),
    ]
    assert [(f.rows, f.inserted, f.updated) for f in report.files] == [
        (2, 2, 0),
        (2, 2, 0),
        (1, 1, 0),
        (2, 2, 0),
        (2, 2, 0),
        (2, 2, 0),
        (2, 2, 0),
    ]


def test_ids_keep_leading_zeros(store, tmp_path):
    run(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at\n007,Acme,2026-01-05\n7,Other,2026-01-05\n"})
    assert [r[0] for r in table_rows(store, Account)] == ["007", "7"]


def test_optional_columns_may_be_left_out_and_empty_cells_are_null(store, tmp_path):
    run(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at,segment\nA1,Acme,2026-01-05,\n"})
    assert table_rows(store, Account, skip=("owner_email",)) == [
        ("A1", "Acme", None, None, dt.date(2026, 1, 5), None, None, None, None, None)
    ]


def test_datetimes_are_stored_as_utc(store, tmp_path):
    tickets = (
        "ticket_id,account_id,opened_at\n"
        "Z,A1,2026-03-04T10:15:00Z\n"
        "OFFSET,A1,2026-03-04T10:15:00+02:00\n"
        "WINTER,A1,2026-03-04T10:15:00\n"
        "SUMMER,A1,2026-07-04 10:15:00\n"
        "ODD,A1,2026-03-04T10:15:00.250-05:30\n"
        "DATE,A1,2026-03-04\n"
    )
    usage = (
        "account_id,user_id,occurred_at\nA1,u,2026-03-04T10:15:00Z\nA1,u,2026-03-04T10:15:00+02:00\n"
        "A1,u,2026-07-04T10:15:00\n"
    )
    run(
        store,
        tmp_path,
        {"accounts.csv": ACCOUNTS, "tickets.csv": tickets, "usage.csv": usage},
        reporting_tz="Europe/Berlin",
    )
    with store.connect() as conn:
        opened = dict(conn.execute(select(Ticket.ticket_id, Ticket.opened_at)).all())
        used = sorted(conn.scalars(select(UsageEvent.occurred_at)))
        later = conn.scalar(select(func.count()).where(UsageEvent.occurred_at >= dt.datetime(2026, 3, 4, 9)))
    assert opened == {
        "Z": dt.datetime(2026, 3, 4, 10, 15),
        "OFFSET": dt.datetime(2026, 3, 4, 8, 15),
        "WINTER": dt.datetime(2026, 3, 4, 9, 15),  # CET, +01:00
        "SUMMER": dt.datetime(2026, 7, 4, 8, 15),  # CEST, +02:00
        "ODD": dt.datetime(2026, 3, 4, 15, 45, 0, 250000),
        "DATE": dt.datetime(2026, 3, 3, 23, 0),
    }
    assert used == [dt.datetime(2026, 3, 4, 8, 15), dt.datetime(2026, 3, 4, 10, 15), dt.datetime(2026, 7, 4, 8, 15)]
    assert later == 2  # stored usage datetimes compare correctly with bound parameters


def test_bom_crlf_blank_lines_and_multiline_cells_keep_physical_line_numbers(store, tmp_path):
    content = (
        "\ufeffresponse_id,account_id,survey,score,responded_at,comment\r\n"
        'R1,A1,nps,9,2026-03-04T10:00:00Z,"first line\r\nsecond line"\r\n'
        "\r\n"
        ",,,,,\r\n"
        "R2,A1,nps,12,2026-03-04T10:00:00Z,\r\n"
    )
    assert problems_of(store, tmp_path, {"accounts.csv": ACCOUNTS, "surveys.csv": content}) == [
        "surveys.csv:6: score: 12 is outside 0-10 for nps"
    ]
    run(store, tmp_path, {"accounts.csv": ACCOUNTS, "surveys.csv": content.replace(",12,", ",10,")})
    assert [(r[0], r[3], r[6]) for r in table_rows(store, Survey)] == [
        ("R1", 9, "first line\r\nsecond line"),
        ("R2", 10, None),
    ]


def test_a_file_that_is_not_utf8_is_rejected(store, tmp_path):
    content = "account_id,name,signed_up_at\nA1,Caf\xe9,2026-01-05\n".encode("latin-1")
    assert problems_of(store, tmp_path, {"accounts.csv": content}) == [
        "accounts.csv:2: the file is not UTF-8 text (byte 0xe9); save it as CSV UTF-8"
    ]


# --- re-import and usage slices ------------------------------------------------------------------


def test_reimport_changes_nothing(store, tmp_path):
    run(store, tmp_path, FULL)
    before = snapshot(store, with_usage_ids=False)
    report = run(store, tmp_path, FULL)
    after = snapshot(store, with_usage_ids=False)
    bookkeeping = {"import_runs", "table_loads"}  # when it ran: a new time on every run
    assert {k: v for k, v in after.items() if k not in bookkeeping} == {
        k: v for k, v in before.items() if k not in bookkeeping
    }
    keyed = [(f.kind, f.inserted, f.updated) for f in report.files if f.kind != "usage"]
    assert keyed == [
        ("accounts", 0, 2),
        ("revenue", 0, 2),
        ("invoices", 0, 1),
        ("surveys", 0, 2),
        ("tickets", 0, 2),
        ("costs", 0, 2),
    ]
    assert count(store, UsageEvent) == 2
    assert count(store, ImportRun) == 14


def test_upsert_overwrites_values_of_existing_keys(store, tmp_path):
    run(store, tmp_path / "a", {"accounts.csv": ACCOUNTS})
    report = run(
        store,
        tmp_path / "b",
        {"accounts.csv": "account_id,name,signed_up_at\nA1,Acme Corp,2026-01-05\nA3,Gamma,2026-02-01\n"},
    )
    assert (report.files[0].inserted, report.files[0].updated) == (1, 1)
    assert [(r[0], r[1], r[5]) for r in table_rows(store, Account, skip=("owner_email",))] == [
        ("A1", "Acme Corp", dt.date(2026, 1, 10)),  # became_customer_at left out of the file: kept
        ("A2", "Beta", None),
        ("A3", "Gamma", None),
    ]


def test_usage_reimport_replaces_the_slices_it_covers(store, tmp_path, monkeypatch):
    monkeypatch.setattr(importer._SqliteUsageWriter, "SLICES_PER_STEP", 1)  # one delete step per slice
    usage = (
        "account_id,user_id,occurred_at,feature\n"
        "A1,u1,2026-03-04T10:00:00Z,report\n"
        "A1,u1,2026-03-04T10:00:00Z,report\n"  # an exact duplicate: two events, both kept
        "A1,u2,2026-03-05T23:59:59Z,export\n"
        "A2,u1,2026-03-04T00:00:00Z,report\n"
    )
    run(store, tmp_path / "1", {"accounts.csv": ACCOUNTS, "usage.csv": usage})
    run(store, tmp_path / "2", {"usage.csv": usage})
    assert count(store, UsageEvent) == 4
    # A smaller file for A1 on 2026-03-04 (UTC day) replaces that slice only.
    report = run(store, tmp_path / "3", {"usage.csv": "account_id,user_id,occurred_at\nA1,u9,2026-03-04T23:00:00Z\n"})
    assert (report.files[0].inserted, report.files[0].updated) == (1, 0)
    assert table_rows(store, UsageEvent, skip=("id",)) == [
        ("A1", "u2", dt.datetime(2026, 3, 5, 23, 59, 59), "export", None),
        ("A1", "u9", dt.datetime(2026, 3, 4, 23, 0), None, None),
        ("A2", "u1", dt.datetime(2026, 3, 4, 0, 0), "report", None),
    ]


def test_usage_slices_with_index_rebuild(store, tmp_path, monkeypatch):
    """The SQLite bulk path (indexes dropped and rebuilt) replaces slices alike and keeps the indexes."""
    monkeypatch.setattr(importer, "_REBUILD_MIN_ROWS", 1)
    monkeypatch.setattr(importer, "BATCH_ROWS", 5)  # so that a bad last row comes after written batches
    monkeypatch.setattr(importer._SqliteUsageWriter, "OLD_ROWS_PER_STEP", 7)  # several delete steps
    indexes = sorted(ix["name"] for ix in inspect(store).get_indexes("usage_events"))
    usage = "account_id,user_id,occurred_at\n" + "".join(f"A1,u{i},2026-03-0{1 + i % 3}T10:00:00Z\n" for i in range(30))
    run(store, tmp_path / "1", {"accounts.csv": ACCOUNTS, "usage.csv": usage})
    run(store, tmp_path / "2", {"usage.csv": usage})
    run(store, tmp_path / "3", {"usage.csv": "account_id,user_id,occurred_at\nA1,new,2026-03-02T01:00:00Z\n"})
    with store.connect() as conn:
        per_day = conn.execute(
            select(UsageEvent.occurred_at, func.count())
            .group_by(UsageEvent.occurred_at)
            .order_by(UsageEvent.occurred_at)
        ).all()
    assert [tuple(r) for r in per_day] == [
        (dt.datetime(2026, 3, 1, 10), 10),
        (dt.datetime(2026, 3, 2, 1), 1),
        (dt.datetime(2026, 3, 3, 10), 10),
    ]
    assert sorted(ix["name"] for ix in inspect(store).get_indexes("usage_events")) == indexes
    bad = usage + "A1,u1,never\n"
    with pytest.raises(CsvImportError):
        run(store, tmp_path / "4", {"usage.csv": bad})
    assert sorted(ix["name"] for ix in inspect(store).get_indexes("usage_events")) == indexes
    assert count(store, UsageEvent) == 21


# --- atomicity -----------------------------------------------------------------------------------


def test_a_bad_last_row_leaves_the_store_exactly_as_it_was(store, tmp_path):
    run(
        store,
        tmp_path / "before",
        {
            "accounts.csv": "account_id,name,signed_up_at\nOLD,Old Co,2025-01-01\n",
            "usage.csv": "account_id,user_id,occurred_at\n"
            "OLD,early1,2026-03-04T10:00:00Z\nOLD,early2,2026-03-05T10:00:00Z\n",
            "revenue.csv": "account_id,month,mrr\nOLD,2026-01,10\n",
        },
    )
    before = snapshot(store)
    rows = ["account_id,user_id,occurred_at,feature,duration_seconds"]
    rows += [
        f"{('A1', 'OLD')[i % 2]},u{i % 97},2026-03-{1 + i % 28:02d}T{i % 24:02d}:00:00Z,f,{i}" for i in range(19_999)
    ]
    rows.append("A1,u1,2026-03-04T10:00:00Z,f,-1")
    files = {
        "accounts.csv": "account_id,name,signed_up_at\nA1,Acme,2026-01-05\nOLD,Renamed,2025-01-01\n",
        "usage.csv": "\n".join(rows) + "\n",
        "revenue.csv": "account_id,month,mrr\nOLD,2026-01,99\nA1,2026-01,5\n",
    }
    assert problems_of(store, tmp_path / "bad", files) == [
        "usage.csv:20001: duration_seconds: -1 is below 0; it must be >= 0"
    ]
    assert snapshot(store) == before
    # The same files without the bad row go in whole.
    files["usage.csv"] = "\n".join(rows[:-1]) + "\n"
    report = run(store, tmp_path / "good", files)
    assert [(f.kind, f.rows, f.inserted, f.updated) for f in report.files] == [
        ("accounts", 2, 1, 1),
        ("revenue", 2, 1, 1),
        ("usage", 19_999, 19_999, 0),
    ]
    # OLD's earlier event of 2026-03-04 was in a slice the file covers, the one of 2026-03-05 was not.
    assert count(store, UsageEvent) == 20_000
    with store.connect() as conn:
        query = select(UsageEvent.user_id, UsageEvent.occurred_at).where(UsageEvent.user_id.like("early%"))
        kept = conn.execute(query).all()
    assert [tuple(r) for r in kept] == [("early2", dt.datetime(2026, 3, 5, 10))]


# --- folders and bookkeeping ---------------------------------------------------------------------


def test_folder_import_takes_every_csv_and_records_runs(store, tmp_path):
    folder = tmp_path / "export"
    write_files(
        folder,
        {"revenue.csv": "account_id,month,mrr\nA1,2026-01,10\n", "accounts.csv": ACCOUNTS, "README.txt": "not a csv"},
    )
    report = import_paths(store, [folder])
    assert report.files == (
        FileSummary("accounts", str((folder / "accounts.csv").resolve()), 2, 2, 0, ()),
        FileSummary("revenue", str((folder / "revenue.csv").resolve()), 1, 1, 0, ()),
    )
    with store.connect() as conn:
        runs = conn.execute(select(ImportRun.kind, ImportRun.source, ImportRun.rows, ImportRun.imported_at)).all()
    assert [(r.kind, r.source, r.rows) for r in runs] == [
        ("accounts", str((folder / "accounts.csv").resolve()), 2),
        ("revenue", str((folder / "revenue.csv").resolve()), 1),
    ]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert all(abs(r.imported_at - now) < dt.timedelta(minutes=5) for r in runs)


def test_account_ids_may_come_from_the_store(store, tmp_path):
    run(store, tmp_path / "1", {"accounts.csv": ACCOUNTS})
    report = run(
        store, tmp_path / "2", {"invoices.csv": "invoice_id,account_id,issued_at,amount\nI1,A2,2026-02-01,5\n"}
    )
    assert report.files[0].inserted == 1


def test_two_files_of_one_kind_are_refused(store, tmp_path):
    first = write_files(tmp_path / "a", {"accounts.csv": ACCOUNTS})
    second = write_files(tmp_path / "b", {"accounts.csv": ACCOUNTS})
    with pytest.raises(CsvImportError) as caught:
        import_paths(store, [*first, *second, first[0]])
    assert caught.value.problems == [
        f"accounts.csv: given twice ({first[0].resolve()} and {second[0].resolve()}); import one accounts.csv at a time"
    ]


def test_progress_off_a_terminal_is_silent(store, tmp_path, capsys):
    run(store, tmp_path, {"accounts.csv": ACCOUNTS}, progress=True)
    assert capsys.readouterr() == ("", "")
