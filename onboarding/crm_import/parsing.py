"""Parse CRM deal exports (HubSpot deals, Salesforce opportunities) into plain rows.

Pure Python on purpose: no Django imports, so the parser is testable on its own and the
import view/task decides what to do with the rows (create onboardings, show errors).

Entry point: :func:`parse_export` takes the raw bytes of an uploaded CSV and returns a
:class:`ParseResult` holding every row that parsed and every problem found, each problem
tied to the physical line of the file where its record starts (the header is line 1).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

__all__ = [
    "CANONICAL_FIELDS",
    "FORMATS",
    "REQUIRED_FIELDS",
    "CrmFormat",
    "DealRow",
    "ParseResult",
    "RowError",
    "UnreadableExport",
    "UnrecognisedExport",
    "describe_date_format",
    "detect_format",
    "parse_amount",
    "parse_date",
    "parse_export",
]

CANONICAL_FIELDS = (
    "record_id",
    "deal_name",
    "stage",
    "amount",
    "close_date",
    "company",
    "owner_name",
    "contact_name",
    "contact_email",
    "contact_role",
    "goals",
    "commitments",
    "risks",
    "seats",
    "modules",
    "renewal_date",
)
REQUIRED_FIELDS = ("record_id", "stage", "company", "close_date", "amount")

# Key accepted in an override mapping besides the canonical fields: pipe-separated won stages.
WON_STAGES_OVERRIDE_KEY = "won_stages"


@dataclass(frozen=True)
class CrmFormat:
    key: str  # "hubspot" | "salesforce"
    label: str
    columns: dict[str, str]  # canonical field -> CSV header
    won_stages: frozenset[str]  # compared case-insensitively after strip
    # Default non-ISO date format of this export (strptime syntax); None = ISO only.
    date_format: str | None

    def is_won(self, stage: str) -> bool:
        wanted = stage.strip().casefold()
        return any(wanted == won.strip().casefold() for won in self.won_stages)


FORMATS: dict[str, CrmFormat] = {
    "hubspot": CrmFormat(
        key="hubspot",
        label="HubSpot deal export",
        columns={
            "record_id": "Record ID",
            "deal_name": "Deal Name",
            "stage": "Deal Stage",
            "amount": "Amount",
            "close_date": "Close Date",
            "company": "Associated Company",
            "owner_name": "Deal owner",
            "contact_name": "Primary contact name",
            "contact_email": "Primary contact email",
            "contact_role": "Primary contact role",
            "goals": "Stated goals",
            "commitments": "Sales commitments",
            "risks": "Known risks",
            "seats": "Seats",
            "modules": "Modules purchased",
            "renewal_date": "Contract renewal date",
        },
        won_stages=frozenset({"Closed won"}),
        date_format=None,
    ),
    "salesforce": CrmFormat(
        key="salesforce",
        label="Salesforce opportunity export",
        columns={
            "record_id": "Opportunity ID",
            "deal_name": "Opportunity Name",
            "stage": "Stage",
            "amount": "Amount",
            "close_date": "Close Date",
            "company": "Account Name",
            "owner_name": "Opportunity Owner",
            "contact_name": "Primary Contact",
            "contact_email": "Primary Contact Email",
            # The standard opportunity report has no contact-role column; a tenant can map one
            # with an override ({"salesforce": {"contact_role": "Contact Role"}}).
            "goals": "Onboarding Goals__c",
            "commitments": "Sales Commitments__c",
            "risks": "Risks__c",
            "seats": "Seats__c",
            "modules": "Products",
            "renewal_date": "Renewal Date__c",
        },
        won_stages=frozenset({"Closed Won"}),
        date_format="%m/%d/%Y",
    ),
}


@dataclass(frozen=True)
class DealRow:
    line: int  # physical line where the record starts (header is line 1)
    record_id: str
    deal_name: str
    stage: str
    is_won: bool
    amount: Decimal
    currency: str | None  # "USD", "EUR", ... when the amount carried a code or symbol
    close_date: date
    company: str
    owner_name: str
    contact_name: str
    contact_email: str
    contact_role: str
    goals: list[str]
    commitments: list[str]
    risks: list[str]
    seats: int | None
    modules: list[str]
    renewal_date: date | None


@dataclass(frozen=True)
class RowError:
    line: int  # physical line of the record (header is line 1)
    # Canonical field name, or None for a problem with the whole record.
    field: str | None
    message: str  # sentence for a person, naming the column as the file spells it

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


@dataclass
class ParseResult:
    format: CrmFormat
    # Rows without errors, won and not won.
    rows: list[DealRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def won_rows(self) -> list[DealRow]:
        return [row for row in self.rows if row.is_won]


class UnrecognisedExport(ValueError):
    """The file's header matches none of the known export formats."""

    def __init__(
        self,
        message: str,
        *,
        headers: list[str] | None = None,
        missing: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = list(headers or [])
        self.missing = dict(missing or {})  # format key -> required headers not found


class UnreadableExport(UnrecognisedExport):
    """The upload is not UTF-8 CSV text at all (wrong encoding, a spreadsheet, empty)."""


# --------------------------------------------------------------------------------------
# Formats and detection


def _norm_header(text: str) -> str:
    return text.strip().casefold()


def _apply_overrides(
    overrides: dict[str, dict[str, str]] | None,
) -> dict[str, CrmFormat]:
    if not overrides:
        return dict(FORMATS)
    formats = dict(FORMATS)
    for key, mapping in overrides.items():
        if key not in FORMATS:
            known = ", ".join(sorted(FORMATS))
            raise ValueError(f'Unknown CRM format "{key}" in column overrides (known: {known})')
        fmt = FORMATS[key]
        columns = dict(fmt.columns)
        won_stages = fmt.won_stages
        for canonical, header in (mapping or {}).items():
            if not isinstance(header, str) or not header.strip():
                raise ValueError(f'Override for {key} "{canonical}" must be a non-empty text')
            if canonical == WON_STAGES_OVERRIDE_KEY:
                stages = frozenset(s.strip() for s in header.split("|") if s.strip())
                if not stages:
                    raise ValueError(f"Override for {key} won_stages names no stage")
                won_stages = stages
                continue
            if canonical not in CANONICAL_FIELDS:
                allowed = ", ".join((*CANONICAL_FIELDS, WON_STAGES_OVERRIDE_KEY))
                raise ValueError(
                    f'Override for {key} names unknown field "{canonical}" (allowed: {allowed})'
                )
            columns[canonical] = header.strip()
        formats[key] = replace(fmt, columns=columns, won_stages=won_stages)
    return formats


def _quoted(items) -> str:
    return ", ".join(f'"{item}"' for item in items)


def detect_format(
    headers: list[str], overrides: dict[str, dict[str, str]] | None = None
) -> CrmFormat:
    """Return the known format whose required columns are all among ``headers``.

    Headers compare case-insensitively after stripping. ``overrides`` maps a format key to
    {canonical field: header} replacing entries of that format's column map, plus optionally
    "won_stages": "Closed won|Won". Raises ValueError for a bad override and
    UnrecognisedExport when no format matches. The returned format has overrides applied.
    """
    formats = _apply_overrides(overrides)
    present = {_norm_header(h) for h in headers}
    matches: list[tuple[int, int, CrmFormat]] = []
    missing: dict[str, list[str]] = {}
    for order, fmt in enumerate(formats.values()):
        needed = [fmt.columns[f] for f in REQUIRED_FIELDS]
        lacking = [h for h in needed if _norm_header(h) not in present]
        if lacking:
            missing[fmt.key] = lacking
            continue
        found = sum(1 for h in fmt.columns.values() if _norm_header(h) in present)
        matches.append((-found, order, fmt))
    if matches:
        return min(matches, key=lambda m: (m[0], m[1]))[2]

    shown = [h.strip() for h in headers if h.strip()]
    parts = [
        "This file is not a recognised CRM export.",
        f"Headers found: {_quoted(shown) if shown else '(none)'}.",
    ]
    for fmt in formats.values():
        needed = [fmt.columns[f] for f in REQUIRED_FIELDS]
        parts.append(
            f"A {fmt.label} needs the columns {_quoted(needed)}"
            f" (missing: {_quoted(missing[fmt.key])})."
        )
    if len(shown) == 1 and (";" in shown[0] or "\t" in shown[0]):
        sep = "semicolons" if ";" in shown[0] else "tabs"
        parts.append(f"The file seems to separate columns with {sep}; export it with commas.")
    raise UnrecognisedExport(" ".join(parts), headers=shown, missing=missing)


# --------------------------------------------------------------------------------------
# Values

_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
_SPACES = {"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "}
_PREFIX_CURRENCY = re.compile(r"^(?:(?P<code>[A-Za-z]{3})(?![A-Za-z])|(?P<sym>[$€£]))\s*")
_SUFFIX_CURRENCY = re.compile(r"(?<![A-Za-z])\s*(?:(?P<code>[A-Za-z]{3})|(?P<sym>[$€£]))$")
_PLAIN_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_GROUPED_NUMBER = re.compile(r"^\d{1,3}(?P<sep>[, ])\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?$")
_AMOUNT_EXAMPLES = "148,000.00, $1,200 or USD 96,000.00"


def parse_amount(text: str) -> tuple[Decimal, str | None]:
    """Parse a deal amount into (Decimal, currency code or None).

    Accepts an optional 3-letter currency code or $ € £ symbol before or after the number,
    "," or space thousands separators and "." as the decimal point (at most 2 decimals).
    Raises ValueError whose message starts with the quoted input, e.g.
    '"9.600,00" is not an amount (...)'.
    """
    original = text
    for odd, plain in _SPACES.items():
        text = text.replace(odd, plain)
    text = text.strip()
    if not text:
        raise ValueError("Amount is empty")

    def bad(reason: str) -> ValueError:
        return ValueError(f'"{original.strip()}" {reason}')

    negative = False
    if text.startswith("(") and text.endswith(")"):  # accounting notation
        negative, text = True, text[1:-1].strip()
    if text.startswith("-"):
        negative, text = True, text[1:].lstrip()

    currencies: list[str] = []
    while prefix := _PREFIX_CURRENCY.match(text):
        currencies.append(prefix["code"].upper() if prefix["code"] else _SYMBOLS[prefix["sym"]])
        text = text[prefix.end() :]
        if text.startswith("-"):
            negative, text = True, text[1:].lstrip()
    while suffix := _SUFFIX_CURRENCY.search(text):
        currencies.append(suffix["code"].upper() if suffix["code"] else _SYMBOLS[suffix["sym"]])
        text = text[: suffix.start()].rstrip()

    if len(currencies) > 1:
        raise bad(f"names more than one currency ({', '.join(currencies)})")
    if not _PLAIN_NUMBER.match(text) and not _GROUPED_NUMBER.match(text):
        if re.fullmatch(r"[\d.]*\d,\d{1,2}", text):
            raise bad(
                f'uses a comma as decimal separator; use "." for decimals (e.g. {_AMOUNT_EXAMPLES})'
            )
        raise bad(f"is not an amount (expected e.g. {_AMOUNT_EXAMPLES})")
    number = text.replace(",", "").replace(" ", "")
    if "." in number and len(number.rsplit(".", 1)[1]) > 2:
        raise bad(
            "has more than two decimal places; it may be a thousands separator "
            f'(use "," for thousands and "." for cents, e.g. {_AMOUNT_EXAMPLES})'
        )
    try:
        value = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the regexes only let digits through
        raise bad(f"is not an amount (expected e.g. {_AMOUNT_EXAMPLES})") from None
    if negative and value != 0:
        raise bad("is negative")
    return value, (currencies[0] if currencies else None)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMAT_WORDS = {
    "%Y": "YYYY",
    "%y": "YY",
    "%m": "MM",
    "%d": "DD",
    "%b": "Mon",
    "%B": "Month",
    "%%": "%",
}


def describe_date_format(date_format: str) -> str:
    """Render a strptime format for people: "%m/%d/%Y" -> "MM/DD/YYYY"."""
    return re.sub(r"%.", lambda m: _FORMAT_WORDS.get(m.group(0), m.group(0)), date_format)


def _expected_dates(date_format: str | None) -> str:
    if date_format:
        return f"YYYY-MM-DD or {describe_date_format(date_format)}"
    return "YYYY-MM-DD"


def parse_date(text: str, date_format: str | None) -> date:
    """Parse ISO YYYY-MM-DD, or ``date_format`` (strptime syntax) when given.

    Raises ValueError whose message starts with the quoted input, e.g.
    '"31/02/2026" is not a date (expected YYYY-MM-DD or MM/DD/YYYY)'.
    """
    value = text.strip()
    if not value:
        raise ValueError("Date is empty")
    if _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    elif date_format:
        try:
            return datetime.strptime(value, date_format).date()
        except ValueError:
            pass
    raise ValueError(f'"{value}" is not a date (expected {_expected_dates(date_format)})')


def _check_date_format(date_format: str) -> None:
    sample = date(2026, 11, 27)
    try:
        ok = datetime.strptime(sample.strftime(date_format), date_format).date() == sample
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f'Date format "{date_format}" does not describe a full date; '
            'use strptime codes such as "%d.%m.%Y" or "%m/%d/%Y"'
        )


_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\".]+(?:\.[^@\s<>(),;:\".]+)+$")
_SEATS = re.compile(r"^(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.0+)?$")


def _split_list(text: str, separators: str = ";") -> list[str]:
    parts = re.split(f"[{re.escape(separators)}]", text)
    return [part.strip() for part in parts if part.strip()]


# --------------------------------------------------------------------------------------
# Whole file


def _decode(data: bytes | bytearray | memoryview | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    raw = bytes(data)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableExport(
            "The file is UTF-16 text (Excel's “Unicode Text”); export it as CSV in UTF-8."
        )
    if raw.startswith(b"PK\x03\x04"):
        raise UnreadableExport(
            "The file is a spreadsheet workbook (.xlsx), not CSV; export or save it as CSV (UTF-8)."
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UnreadableExport(
            f"The file is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line} "
            "cannot be read); export the CSV again choosing UTF-8 encoding."
        ) from None


def parse_export(
    data: bytes,
    *,
    overrides: dict[str, dict[str, str]] | None = None,
    date_format: str | None = None,
) -> ParseResult:
    """Parse a CRM export CSV.

    ``data`` is the raw upload (UTF-8, BOM optional, CRLF or LF). ``overrides`` is passed to
    :func:`detect_format`; ``date_format`` (strptime syntax) replaces the format's default
    non-ISO date format - ISO dates are always accepted.

    Raises UnreadableExport (not UTF-8 CSV / empty) or UnrecognisedExport (unknown header),
    ValueError for bad overrides or date_format. Every problem in the rows is collected in
    ``errors``; only rows without problems are in ``rows``.
    """
    if date_format is not None:
        _check_date_format(date_format)
    text = _decode(data)
    # strict: a stray double quote is reported instead of silently swallowing the rest
    # of the file into one field.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)

    headers: list[str] | None = None
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                headers = row
                break
    except csv.Error as exc:
        raise UnreadableExport(f"The header row could not be read as CSV: {exc}.") from None
    if headers is None:
        raise UnreadableExport("The file is empty: there is no header row.")

    fmt = detect_format(headers, overrides)
    if date_format is not None:
        fmt = replace(fmt, date_format=date_format)

    index: dict[str, int] = {}
    for position, header in enumerate(headers):
        index.setdefault(_norm_header(header), position)
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    for canonical in CANONICAL_FIELDS:
        header = fmt.columns.get(canonical)
        if header is not None and _norm_header(header) in index:
            positions[canonical] = index[_norm_header(header)]
            labels[canonical] = headers[positions[canonical]].strip()
        else:
            labels[canonical] = header or canonical.replace("_", " ").capitalize()

    result = ParseResult(format=fmt)
    seen_ids: dict[str, int] = {}
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.errors.append(
                RowError(
                    line=start,
                    field=None,
                    message=f"From this line on the file is not valid CSV ({exc}); "
                    "look for a double quote that is not closed or is followed by "
                    "text.",
                )
            )
            break
        if not any(cell.strip() for cell in cells):
            continue
        parsed = _parse_row(cells, start, fmt, headers, positions, labels, seen_ids)
        if isinstance(parsed, DealRow):
            result.rows.append(parsed)
        else:
            result.errors.extend(parsed)
    return result


def _parse_row(
    cells: list[str],
    line: int,
    fmt: CrmFormat,
    headers: list[str],
    positions: dict[str, int],
    labels: dict[str, str],
    seen_ids: dict[str, int],
) -> DealRow | list[RowError]:
    errors: list[RowError] = []

    def get(canonical: str) -> str:
        position = positions.get(canonical)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()

    def error(canonical: str | None, message: str) -> None:
        errors.append(RowError(line=line, field=canonical, message=message))

    extra = [cell for cell in cells[len(headers) :] if cell.strip()]
    if extra:
        error(
            None,
            f"The record has {len(cells)} values but the header has {len(headers)} columns; "
            "a value probably contains an unquoted comma.",
        )

    for canonical in REQUIRED_FIELDS:
        if not get(canonical):
            error(canonical, f"{labels[canonical]} is empty.")

    record_id = get("record_id")
    if record_id:
        if record_id in seen_ids:
            error(
                "record_id",
                f'{labels["record_id"]} "{record_id}" already appeared on line '
                f"{seen_ids[record_id]}; each deal can be imported once per file.",
            )
        else:
            seen_ids[record_id] = line

    stage = get("stage")
    is_won = fmt.is_won(stage)

    amount, currency = Decimal(0), None
    if get("amount"):
        try:
            amount, currency = parse_amount(get("amount"))
        except ValueError as exc:
            error("amount", f"{labels['amount']} {exc}.")

    close_date = None
    if get("close_date"):
        try:
            close_date = parse_date(get("close_date"), fmt.date_format)
        except ValueError as exc:
            error("close_date", f"{labels['close_date']} {exc}.")

    renewal_date = None
    if get("renewal_date"):
        try:
            renewal_date = parse_date(get("renewal_date"), fmt.date_format)
        except ValueError as exc:
            error("renewal_date", f"{labels['renewal_date']} {exc}.")

    seats = None
    raw_seats = get("seats")
    if raw_seats:
        if _SEATS.match(raw_seats):
            seats = int(raw_seats.split(".")[0].replace(",", ""))
        else:
            error(
                "seats",
                f'{labels["seats"]} "{raw_seats}" is not a whole number of seats.',
            )

    email = get("contact_email")
    if is_won:
        if not email:
            error(
                "contact_email",
                f"{labels['contact_email']} is empty; a won deal needs a contact to invite.",
            )
        elif not _EMAIL.match(email):
            error(
                "contact_email",
                f'{labels["contact_email"]} "{email}" is not an email address.',
            )

    if errors or close_date is None:  # close_date is required, so None means an error
        # Report in the order of the file's columns; whole-record problems first.
        return sorted(
            errors,
            key=lambda e: -1 if e.field is None else positions.get(e.field, len(headers)),
        )
    return DealRow(
        line=line,
        record_id=record_id,
        deal_name=get("deal_name"),
        stage=stage,
        is_won=is_won,
        amount=amount,
        currency=currency,
        close_date=close_date,
        company=get("company"),
        owner_name=get("owner_name"),
        contact_name=get("contact_name"),
        contact_email=email,
        contact_role=get("contact_role"),
        goals=_split_list(get("goals")),
        commitments=_split_list(get("commitments")),
        risks=_split_list(get("risks")),
        seats=seats,
        modules=_split_list(get("modules"), ";,"),
        renewal_date=renewal_date,
    )
