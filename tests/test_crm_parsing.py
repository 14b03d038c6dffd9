"""Tests for onboarding.crm_import.parsing (pure Python; no Django needed).

Run: .venv/bin/python -m pytest -p no:django tests/test_crm_parsing.py -q
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from onboarding.crm_import.parsing import (
    CANONICAL_FIELDS,
    FORMATS,
    REQUIRED_FIELDS,
    DealRow,
    UnreadableExport,
    UnrecognisedExport,
    detect_format,
    parse_amount,
    parse_date,
    parse_export,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
CASES = REPO_ROOT.parent / "shared" / "cases"

needs_cases = pytest.mark.skipif(
    not CASES.is_dir(),
    reason=f"shared CRM export samples not found at {CASES} (expected ../shared/cases "
    "beside the repository)",
)


@pytest.fixture
def hubspot_bytes() -> bytes:
    return (CASES / "hubspot-deals.csv").read_bytes()


@pytest.fixture
def salesforce_bytes() -> bytes:
    return (CASES / "salesforce-opportunities.csv").read_bytes()


HUBSPOT_HEADER = ",".join(FORMATS["hubspot"].columns[f] for f in CANONICAL_FIELDS)


def hubspot_csv(*records: str, newline: str = "\r\n") -> bytes:
    """A small HubSpot-shaped export: columns in CANONICAL_FIELDS order."""
    return newline.join([HUBSPOT_HEADER, *records, ""]).encode("utf-8")


def record(**values: str) -> str:
    """One CSV record in CANONICAL_FIELDS order; every value quoted."""
    base = {
        "record_id": "1",
        "deal_name": "Deal",
        "stage": "Closed won",
        "amount": "1,000.00",
        "close_date": "2026-11-16",
        "company": "Acme",
        "owner_name": "Owner",
        "contact_name": "Contact",
        "contact_email": "contact@acme.example",
        "contact_role": "CTO",
        "goals": "",
        "commitments": "",
        "risks": "",
        "seats": "",
        "modules": "",
        "renewal_date": "",
    }
    base.update(values)
    return ",".join('"' + base[f].replace('"', '""') + '"' for f in CANONICAL_FIELDS)


def summary(rows: list[DealRow]) -> list[tuple]:
    return [(r.line, r.record_id, r.company, r.is_won, r.amount, r.close_date) for r in rows]


# --------------------------------------------------------------------------------------
# The real sample exports


@needs_cases
def test_hubspot_sample(hubspot_bytes):
    result = parse_export(hubspot_bytes)

    assert result.ok, result.errors
    assert result.format.key == "hubspot"
    assert len(result.rows) == 5
    assert [r.line for r in result.rows] == [2, 3, 4, 5, 6]
    won = [r for r in result.rows if r.is_won]
    assert [(r.company, r.amount) for r in won] == [
        ("Northwind Traders", Decimal("148000.00")),
        ("Contoso Health", Decimal("62500.00")),
        ("Fabrikam Studio", Decimal("9600.00")),
    ]
    assert result.won_rows == won
    assert [r.stage for r in result.rows if not r.is_won] == [
        "Contract sent",
        "Closed lost",
    ]

    northwind = won[0]
    assert northwind.record_id == "18823410551"
    assert northwind.deal_name == "Northwind Traders - Platform"
    assert northwind.close_date == date(2026, 11, 16)
    assert northwind.currency is None
    assert northwind.owner_name == "Priya Raman"
    assert northwind.contact_name == "Dana Whitfield"
    assert northwind.contact_email == "dana.whitfield@northwind.example"
    assert northwind.contact_role == "VP Operations"
    assert northwind.goals == [
        "Cut order-to-invoice time from 9 days to 3",
        "one dashboard for all 14 warehouses",
    ]
    assert northwind.commitments == [
        "Go-live before 2027-02-15",
        "SSO with Okta",
        "custom invoice template",
    ]
    assert len(northwind.risks) == 2
    assert northwind.seats == 220
    assert northwind.modules == ["Core", "Analytics", "API access"]
    assert northwind.renewal_date == date(2027, 11, 15)

    fabrikam = won[2]
    assert fabrikam.contact_name == "Léa Dubois"
    assert fabrikam.commitments == []
    assert fabrikam.modules == ["Core"]

    woodgrove = result.rows[4]
    assert woodgrove.renewal_date is None
    assert woodgrove.amount == Decimal("210000.00")


@needs_cases
def test_salesforce_sample(salesforce_bytes):
    result = parse_export(salesforce_bytes)

    assert result.ok, result.errors
    assert result.format.key == "salesforce"
    assert result.format.date_format == "%m/%d/%Y"
    assert [r.line for r in result.rows] == [2, 3, 4]
    litware, adatum, proseware = result.rows
    assert (litware.company, litware.is_won) == ("Litware Logistics", True)
    assert (litware.amount, litware.currency) == (Decimal("96000.00"), "USD")
    assert litware.close_date == date(2026, 11, 27)
    assert litware.renewal_date == date(2027, 11, 26)
    assert litware.contact_email == "ravi.menon@litware.example"
    assert litware.contact_role == ""  # no such column in the standard report
    assert litware.modules == ["Core", "Integrations"]  # comma-separated here
    assert litware.seats == 120
    assert (adatum.company, adatum.is_won, adatum.amount) == (
        "Adatum Legal",
        True,
        Decimal("18000.00"),
    )
    assert adatum.commitments == []
    assert proseware.stage == "Negotiation/Review"
    assert proseware.is_won is False
    assert [r.company for r in result.won_rows] == ["Litware Logistics", "Adatum Legal"]


@needs_cases
@pytest.mark.parametrize("name", ["hubspot-deals.csv", "salesforce-opportunities.csv"])
def test_bom_and_lf_variants_parse_identically(name):
    original = (CASES / name).read_bytes()
    assert b"\r\n" in original
    baseline = parse_export(original)
    variants = {
        "bom": b"\xef\xbb\xbf" + original,
        "lf": original.replace(b"\r\n", b"\n"),
        "bom+lf": b"\xef\xbb\xbf" + original.replace(b"\r\n", b"\n"),
        "no final newline": original.rstrip(b"\r\n"),
        "str input": original.decode("utf-8"),
    }
    for label, data in variants.items():
        result = parse_export(data)
        assert result.format.key == baseline.format.key, label
        assert result.rows == baseline.rows, label
        assert result.errors == [], label


@needs_cases
def test_embedded_newline_keeps_physical_line_numbers(hubspot_bytes):
    data = hubspot_bytes.replace(
        b"Cut order-to-invoice time from 9 days to 3; one dashboard",
        b"Cut order-to-invoice time from 9 days to 3;\r\none dashboard",
    ).replace(b'"HIPAA BAA signed; ', b'"HIPAA BAA signed;\r\n\r\n')
    assert data != hubspot_bytes

    result = parse_export(data)

    assert result.ok, result.errors
    # Northwind spans lines 2-3, Contoso lines 4-6; the rest shift by 3.
    assert [r.line for r in result.rows] == [2, 4, 7, 8, 9]
    assert result.rows[0].goals == [
        "Cut order-to-invoice time from 9 days to 3",
        "one dashboard for all 14 warehouses",
    ]
    assert result.rows[1].commitments == [
        "HIPAA BAA signed",
        "data residency in US-East",
    ]


@needs_cases
def test_header_override_for_renamed_column(hubspot_bytes):
    renamed = hubspot_bytes.replace(b"Associated Company", b"Company name", 1)

    with pytest.raises(UnrecognisedExport) as excinfo:
        parse_export(renamed)
    assert '"Company name"' in str(excinfo.value)
    assert excinfo.value.missing["hubspot"] == ["Associated Company"]

    result = parse_export(renamed, overrides={"hubspot": {"company": "Company name"}})
    assert result.ok, result.errors
    assert result.format.key == "hubspot"
    assert result.format.columns["company"] == "Company name"
    assert [r.company for r in result.won_rows] == [
        "Northwind Traders",
        "Contoso Health",
        "Fabrikam Studio",
    ]
    # The built-in map is untouched.
    assert FORMATS["hubspot"].columns["company"] == "Associated Company"


@needs_cases
def test_won_stages_override(hubspot_bytes):
    result = parse_export(
        hubspot_bytes,
        overrides={"hubspot": {"won_stages": "Closed won | contract SENT"}},
    )
    assert [r.company for r in result.won_rows] == [
        "Northwind Traders",
        "Contoso Health",
        "Fabrikam Studio",
        "Tailspin Toys",
    ]


@needs_cases
def test_salesforce_with_explicit_date_format_and_iso(salesforce_bytes):
    data = salesforce_bytes.replace(b'"11/27/2026"', b'"27.11.2026"').replace(
        b'"11/30/2026"', b'"2026-11-30"'
    )
    result = parse_export(data, date_format="%d.%m.%Y")
    assert result.format.date_format == "%d.%m.%Y"
    # The US renewal dates no longer match the replaced format: reported, not guessed.
    assert {(e.line, e.field) for e in result.errors} == {
        (2, "renewal_date"),
        (3, "renewal_date"),
        (4, "close_date"),
        (4, "renewal_date"),
    }
    assert result.errors[0].message == (
        'Renewal Date__c "11/26/2027" is not a date (expected YYYY-MM-DD or DD.MM.YYYY).'
    )


# --------------------------------------------------------------------------------------
# Synthetic files


def test_date_format_override_accepts_it_and_iso():
    data = hubspot_csv(
        record(record_id="1", close_date="16.11.2026", renewal_date="15.11.2027"),
        record(record_id="2", close_date="2026-11-20", renewal_date="2027-11-19"),
    )
    assert not parse_export(data).ok  # HubSpot default is ISO only

    result = parse_export(data, date_format="%d.%m.%Y")
    assert result.ok, result.errors
    assert [(r.close_date, r.renewal_date) for r in result.rows] == [
        (date(2026, 11, 16), date(2027, 11, 15)),
        (date(2026, 11, 20), date(2027, 11, 19)),
    ]


def test_invalid_date_format_argument_is_rejected():
    with pytest.raises(ValueError, match="does not describe a full date"):
        parse_export(hubspot_csv(record()), date_format="dd.mm.yyyy")


def test_every_error_of_every_row_is_reported():
    data = hubspot_csv(
        record(record_id="100", company="Good Co"),  # line 2: fine
        record(record_id="101", close_date="31/02/2026"),  # line 3
        record(record_id="102", company="  "),  # line 4
        record(record_id="103", contact_email="dana at example"),  # line 5
        record(record_id="104", amount="12 apples"),  # line 6
        record(record_id="100", company="Copy Co"),  # line 7: duplicate id
        # line 8: several problems in one row, all reported
        record(
            record_id="105",
            amount="-50",
            close_date="",
            company="",
            contact_email="",
            seats="lots",
            renewal_date="2027-02-30",
        ),
        # line 9: not won, so a missing email is fine
        record(record_id="106", stage="Closed lost", contact_email=""),
        # line 10: not won, but a missing company is still an error
        record(record_id="107", stage="Closed lost", company=""),
        ",,,,,,,,,,,,,,,,",  # line 11: empty record, ignored
        "",  # line 12: blank line, ignored
        record(record_id="108", amount=""),  # line 13
    )

    result = parse_export(data)

    assert not result.ok
    assert [(r.line, r.record_id) for r in result.rows] == [(2, "100"), (9, "106")]
    assert [(e.line, e.field) for e in result.errors] == [
        (3, "close_date"),
        (4, "company"),
        (5, "contact_email"),
        (6, "amount"),
        (7, "record_id"),
        # within a record, in the file's column order
        (8, "amount"),
        (8, "close_date"),
        (8, "company"),
        (8, "contact_email"),
        (8, "seats"),
        (8, "renewal_date"),
        (10, "company"),
        (13, "amount"),
    ]
    messages = {(e.line, e.field): e.message for e in result.errors}
    assert messages[(3, "close_date")] == (
        'Close Date "31/02/2026" is not a date (expected YYYY-MM-DD).'
    )
    assert messages[(4, "company")] == "Associated Company is empty."
    assert messages[(5, "contact_email")] == (
        'Primary contact email "dana at example" is not an email address.'
    )
    assert messages[(6, "amount")].startswith('Amount "12 apples" is not an amount')
    assert messages[(7, "record_id")] == (
        'Record ID "100" already appeared on line 2; each deal can be imported once per file.'
    )
    assert messages[(8, "amount")] == 'Amount "-50" is negative.'
    assert messages[(8, "seats")] == 'Seats "lots" is not a whole number of seats.'
    assert messages[(8, "contact_email")] == (
        "Primary contact email is empty; a won deal needs a contact to invite."
    )
    assert messages[(13, "amount")] == "Amount is empty."
    assert str(result.errors[0]).startswith("Line 3: Close Date")


def test_lf_only_synthetic_file_and_seats_and_modules():
    data = hubspot_csv(
        record(seats="1,200", modules="Core, Analytics; API access;", goals=" a ;; b ;"),
        newline="\n",
    )
    (row,) = parse_export(data).rows
    assert row.seats == 1200
    assert row.modules == ["Core", "Analytics", "API access"]
    assert row.goals == ["a", "b"]


def test_row_with_extra_values_is_reported():
    data = hubspot_csv(record() + ',"stray"')
    result = parse_export(data)
    assert result.rows == []
    assert [(e.line, e.field) for e in result.errors] == [(2, None)]
    assert "unquoted comma" in result.errors[0].message


def test_headers_are_matched_case_insensitively_and_stripped():
    header = HUBSPOT_HEADER.replace("Record ID", "  record id ").replace("Amount", "AMOUNT")
    data = (header + "\r\n" + record(record_id="9") + "\r\n").encode()
    (row,) = parse_export(data).rows
    assert (row.record_id, row.amount) == ("9", Decimal("1000.00"))


def test_optional_columns_may_be_absent():
    required = [FORMATS["hubspot"].columns[f] for f in REQUIRED_FIELDS]
    data = (",".join(required) + "\n" + "7,Closed lost,Acme,2026-11-16,5\n").encode()
    (row,) = parse_export(data).rows
    assert (row.record_id, row.contact_email, row.goals, row.seats) == (
        "7",
        "",
        [],
        None,
    )


@pytest.mark.parametrize("bad", [b'"3,oops\r\n', b'"3,"oops,x\r\n'])
def test_stray_quote_is_reported_not_swallowed(bad):
    data = hubspot_csv(record(record_id="1"), record(record_id="2")) + bad
    data += record(record_id="5").encode() + b"\r\n"
    result = parse_export(data)
    assert [r.record_id for r in result.rows] == ["1", "2"]
    assert [(e.line, e.field) for e in result.errors] == [(4, None)]
    assert result.errors[0].message.startswith("From this line on the file is not valid")


# --------------------------------------------------------------------------------------
# Unreadable / unrecognised files


def test_unrecognised_headers_are_named_in_the_message():
    data = b"Name,Email,Phone\r\nAda,ada@example.com,123\r\n"
    with pytest.raises(UnrecognisedExport) as excinfo:
        parse_export(data)
    message = str(excinfo.value)
    assert '"Name", "Email", "Phone"' in message
    assert "HubSpot deal export" in message and "Salesforce opportunity export" in message
    assert '"Record ID"' in message and '"Opportunity ID"' in message
    assert excinfo.value.headers == ["Name", "Email", "Phone"]
    assert isinstance(excinfo.value, ValueError)


def test_semicolon_separated_file_gets_a_hint():
    data = HUBSPOT_HEADER.replace(",", ";").encode() + b"\r\n"
    with pytest.raises(UnrecognisedExport, match="semicolons"):
        parse_export(data)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("Record ID,Amount\r\nCafé,1\r\n".encode("latin-1"), "not UTF-8"),
        ("Record ID".encode("utf-16"), "UTF-16"),
        (b"PK\x03\x04\x14\x00\x06\x00", ".xlsx"),
        (b"", "empty"),
        (b"\xef\xbb\xbf\r\n\r\n", "empty"),
    ],
)
def test_unreadable_files(data, fragment):
    with pytest.raises(UnreadableExport, match=fragment.replace(".", r"\.")):
        parse_export(data)


def test_unreadable_is_also_unrecognised():
    assert issubclass(UnreadableExport, UnrecognisedExport)
    assert issubclass(UnrecognisedExport, ValueError)


# --------------------------------------------------------------------------------------
# detect_format and overrides


def test_detect_format():
    assert detect_format(list(FORMATS["hubspot"].columns.values())).key == "hubspot"
    sf = detect_format([" opportunity id", "STAGE", "Account Name", "Close Date", "Amount"])
    assert sf.key == "salesforce"
    assert sf.won_stages == frozenset({"Closed Won"})


@pytest.mark.parametrize(
    "overrides",
    [
        {"hubspot": {"company_name": "Company name"}},
        {"pipedrive": {"company": "Organisation"}},
        {"hubspot": {"company": "  "}},
    ],
)
def test_bad_overrides_raise_value_error(overrides):
    with pytest.raises(ValueError) as excinfo:
        detect_format(list(FORMATS["hubspot"].columns.values()), overrides)
    assert not isinstance(excinfo.value, UnrecognisedExport)


def test_override_can_add_salesforce_contact_role():
    header = (
        '"Opportunity ID","Stage","Account Name","Close Date","Amount",'
        '"Primary Contact Email","Contact Role"'
    )
    data = (
        header + '\r\n"006A","Closed Won","Acme","11/27/2026","$5","a@acme.example","CFO"\r\n'
    ).encode()
    result = parse_export(data, overrides={"salesforce": {"contact_role": "Contact Role"}})
    (row,) = result.rows
    assert (row.contact_role, row.currency, row.amount) == ("CFO", "USD", Decimal(5))


# --------------------------------------------------------------------------------------
# parse_amount / parse_date


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("148,000.00", "148000.00", None),
        ("62500", "62500", None),
        ("0.5", "0.5", None),
        ("USD 96,000.00", "96000.00", "USD"),
        ("usd96000", "96000", "USD"),
        ("96,000.00 EUR", "96000.00", "EUR"),
        ("$1,200", "1200", "USD"),
        ("€ 9,600.50", "9600.50", "EUR"),
        ("1 200 £", "1200", "GBP"),
        ("1\u00a0234\u00a0567.89", "1234567.89", None),
        ("  12,345,678  ", "12345678", None),
        ("0", "0", None),
    ],
)
def test_parse_amount_good(text, amount, currency):
    value, code = parse_amount(text)
    assert value == Decimal(amount)
    assert code == currency


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-100", "negative"),
        ("$-100", "negative"),
        ("-$100", "negative"),
        ("(1,000.00)", "negative"),
        ("€ 9.600,00", "comma as decimal"),
        ("1,5", "comma as decimal"),
        ("1.234", "more than two decimal places"),
        ("1,23,456", "not an amount"),
        ("1,000 000", "not an amount"),
        ("12e3", "not an amount"),
        ("NaN", "not an amount"),
        ("abc", "not an amount"),
        ("100 dollars", "not an amount"),
        ("USD $100", "more than one currency"),
        ("$100 EUR", "more than one currency"),
        ("1.000.000", "not an amount"),
        ("TBD", "not an amount"),
    ],
)
def test_parse_amount_bad(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_amount(text)


def test_parse_amount_message_quotes_the_input():
    with pytest.raises(ValueError) as excinfo:
        parse_amount("12 apples")
    assert str(excinfo.value).startswith('"12 apples" is not an amount (expected e.g.')


@pytest.mark.parametrize(
    ("text", "date_format", "expected"),
    [
        ("2026-11-16", None, date(2026, 11, 16)),
        (" 2026-11-16 ", "%m/%d/%Y", date(2026, 11, 16)),
        ("11/27/2026", "%m/%d/%Y", date(2026, 11, 27)),
        ("27.11.2026", "%d.%m.%Y", date(2026, 11, 27)),
    ],
)
def test_parse_date_good(text, date_format, expected):
    assert parse_date(text, date_format) == expected


@pytest.mark.parametrize(
    ("text", "date_format", "message"),
    [
        (
            "31/02/2026",
            "%m/%d/%Y",
            '"31/02/2026" is not a date (expected YYYY-MM-DD or MM/DD/YYYY)',
        ),
        ("2026-02-30", None, '"2026-02-30" is not a date (expected YYYY-MM-DD)'),
        ("11/27/2026", None, '"11/27/2026" is not a date (expected YYYY-MM-DD)'),
        ("20261116", None, '"20261116" is not a date (expected YYYY-MM-DD)'),
        ("", None, "Date is empty"),
    ],
)
def test_parse_date_bad(text, date_format, message):
    with pytest.raises(ValueError) as excinfo:
        parse_date(text, date_format)
    assert str(excinfo.value) == message
