"""Health-score inputs ingested per customer: product usage and support tickets (CSV now).

Like the CRM import: all or nothing (one bad row imports nothing, and every bad row is reported
with its line number, the header being line 1), and idempotent - usage is keyed by (customer,
date) and tickets by (customer, ticket id), so importing a file again changes nothing, and a
corrected file updates the values it corrects.

Usage CSV columns:   customer, date, active_users
Ticket CSV columns:  customer, ticket_id, opened_at, subject (optional)

Headers are matched case-insensitively, with spaces, "_" and "-" alike ("Active users",
"active_users"). `customer` is the customer's name (case-insensitive) or the CRM record id of one
of its onboardings. Dates are YYYY-MM-DD; `opened_at` is ISO 8601 ("2025-11-14 09:30",
"2025-11-14T14:30:00Z"); without an offset it is read in the tenant's time zone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models.functions import Lower

from accounts.models import Tenant
from onboarding.models import Customer, Onboarding, SupportTicket, UsageRecord
from portal.tenancy.context import tenant_context

MAX_ROWS = 200_000
MAX_USERS = 10_000_000


class UnreadableCsv(ValueError):
    """The file is not a UTF-8 CSV with the expected columns; nothing was read."""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


@dataclass
class IngestReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


COLUMNS = {
    "usage": {
        "customer": ("customer", "customer name", "company", "account", "crm record id"),
        "date": ("date", "day"),
        "active_users": ("active users", "active user count", "users", "dau"),
    },
    "tickets": {
        "customer": ("customer", "customer name", "company", "account", "crm record id"),
        "ticket_id": ("ticket id", "ticket", "id", "external id"),
        "opened_at": ("opened at", "opened", "created at", "created"),
        "subject": ("subject", "title"),
    },
}
REQUIRED = {
    "usage": ("customer", "date", "active_users"),
    "tickets": ("customer", "ticket_id", "opened_at"),
}


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().lower())


def _read(data: bytes, kind: str) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for every non-blank record, with canonical column names."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableCsv("The file is not UTF-8 text.") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    columns: dict[int, str] | None = None
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if columns is None:
                columns = _map_header(record, kind)
                continue
            if len(rows) >= MAX_ROWS:
                raise UnreadableCsv(f"The file has more than {MAX_ROWS} rows; split it.")
            rows.append(
                (start, {name: record[i].strip() for i, name in columns.items() if i < len(record)})
            )
    except csv.Error as exc:
        raise UnreadableCsv(f"Line {line}: not valid CSV ({exc}).") from None
    if columns is None:
        raise UnreadableCsv("The file is empty.")
    return rows


def _map_header(record: list[str], kind: str) -> dict[int, str]:
    known = {alias: name for name, aliases in COLUMNS[kind].items() for alias in aliases}
    known.update({_norm(name): name for name in COLUMNS[kind]})
    columns: dict[int, str] = {}
    for i, header in enumerate(record):
        name = known.get(_norm(header))
        if name is not None and name not in columns.values():
            columns[i] = name
    missing = [n for n in REQUIRED[kind] if n not in columns.values()]
    if missing:
        raise UnreadableCsv(
            f"Missing column(s): {', '.join(missing)}. Expected: {', '.join(COLUMNS[kind])}."
        )
    return columns


def _customer_resolver(keys: set[str]) -> Callable[[str], tuple[int | None, str]]:
    """Two queries: customers by name, and onboardings by CRM record id, for the keys given."""
    by_name: dict[str, set[int]] = {}
    for pk, name in (
        Customer.objects.annotate(lname=Lower("name"))
        .filter(lname__in={k.lower() for k in keys})
        .values_list("pk", "lname")
    ):
        by_name.setdefault(name, set()).add(pk)
    by_crm: dict[str, set[int]] = {}
    for record_id, customer_id in Onboarding.objects.filter(crm_record_id__in=keys).values_list(
        "crm_record_id", "customer_id"
    ):
        by_crm.setdefault(record_id, set()).add(customer_id)

    def resolve(key: str) -> tuple[int | None, str]:
        found = by_name.get(key.lower(), set()) | by_crm.get(key, set())
        if len(found) == 1:
            return next(iter(found)), ""
        if not found:
            return None, f'No customer named, or with a CRM record id, "{key}".'
        return None, f'"{key}" names more than one customer; use the CRM record id.'

    return resolve


def _int(text: str) -> int | None:
    return int(text) if re.fullmatch(r"\d{1,9}", text) else None


def _date(text: str) -> dt.date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _moment(text: str, tenant: Tenant) -> dt.datetime | None:
    if not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?", text
    ):
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tenant.tz)
    return value.astimezone(dt.UTC)


def import_usage(tenant: Tenant, data: bytes) -> IngestReport:
    """Active users per customer and day. Raises UnreadableCsv for a file that cannot be read."""
    with tenant_context(tenant):
        rows = _read(data, "usage")
        report = IngestReport()
        resolve = _customer_resolver({r["customer"] for _, r in rows if r.get("customer")})
        latest = tenant.local_today() + dt.timedelta(days=1)
        parsed: dict[tuple[int, dt.date], tuple[int, int]] = {}  # key -> (users, line)
        for line, row in rows:
            problems = []
            customer_id, why = resolve(row["customer"]) if row.get("customer") else (None, "")
            if not row.get("customer"):
                problems.append("customer is empty.")
            elif customer_id is None:
                problems.append(why)
            day = _date(row.get("date", ""))
            if day is None:
                problems.append(f'date "{row.get("date", "")}" is not a date (YYYY-MM-DD).')
            elif day > latest:
                problems.append(f"date {day} is in the future.")
            users = _int(row.get("active_users", ""))
            if users is None or users > MAX_USERS:
                problems.append(
                    f'active_users "{row.get("active_users", "")}" is not a whole number '
                    f"from 0 to {MAX_USERS}."
                )
            if not problems and (customer_id, day) in parsed:
                first = parsed[(customer_id, day)][1]
                problems.append(f"{row['customer']} on {day} is already on line {first}.")
            if problems:
                report.errors.extend(RowError(line, p) for p in problems)
            else:
                parsed[(customer_id, day)] = (users, line)
        if not report.ok:
            return report
        existing = {
            (c, d): u
            for c, d, u in UsageRecord.objects.filter(
                customer_id__in={c for c, _ in parsed}, date__in={d for _, d in parsed}
            ).values_list("customer_id", "date", "active_users")
        }
        writes = []
        for (customer_id, day), (users, _) in parsed.items():
            before = existing.get((customer_id, day))
            if before == users:
                report.unchanged += 1
                continue
            if before is None:
                report.created += 1
            else:
                report.updated += 1
            writes.append(UsageRecord(customer_id=customer_id, date=day, active_users=users))
        with transaction.atomic():
            UsageRecord.objects.bulk_create(
                writes,
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["tenant", "customer", "date"],
                update_fields=["active_users"],
            )
        return report


def import_tickets(tenant: Tenant, data: bytes) -> IngestReport:
    """Support tickets per customer. Raises UnreadableCsv for a file that cannot be read."""
    max_id = SupportTicket._meta.get_field("external_id").max_length
    max_subject = SupportTicket._meta.get_field("subject").max_length
    with tenant_context(tenant):
        rows = _read(data, "tickets")
        report = IngestReport()
        resolve = _customer_resolver({r["customer"] for _, r in rows if r.get("customer")})
        parsed: dict[tuple[int, str], tuple[dt.datetime, str, int]] = {}
        for line, row in rows:
            problems = []
            customer_id, why = resolve(row["customer"]) if row.get("customer") else (None, "")
            if not row.get("customer"):
                problems.append("customer is empty.")
            elif customer_id is None:
                problems.append(why)
            ticket_id = row.get("ticket_id", "")
            if not ticket_id:
                problems.append("ticket_id is empty.")
            elif len(ticket_id) > max_id:
                problems.append(f"ticket_id is longer than {max_id} characters.")
            opened = _moment(row.get("opened_at", ""), tenant)
            if opened is None:
                problems.append(
                    f'opened_at "{row.get("opened_at", "")}" is not a date and time '
                    "(YYYY-MM-DD HH:MM, optionally with an offset)."
                )
            subject = row.get("subject", "")
            if len(subject) > max_subject:
                problems.append(f"subject is longer than {max_subject} characters.")
            if not problems and (customer_id, ticket_id) in parsed:
                first = parsed[(customer_id, ticket_id)][2]
                problems.append(f"ticket {ticket_id} is already on line {first}.")
            if problems:
                report.errors.extend(RowError(line, p) for p in problems)
            else:
                parsed[(customer_id, ticket_id)] = (opened, subject, line)
        if not report.ok:
            return report
        existing = {
            (c, e): (o, s)
            for c, e, o, s in SupportTicket.objects.filter(
                customer_id__in={c for c, _ in parsed}, external_id__in={e for _, e in parsed}
            ).values_list("customer_id", "external_id", "opened_at", "subject")
        }
        writes = []
        for (customer_id, ticket_id), (opened, subject, _) in parsed.items():
            before = existing.get((customer_id, ticket_id))
            if before == (opened, subject):
                report.unchanged += 1
                continue
            if before is None:
                report.created += 1
            else:
                report.updated += 1
            writes.append(
                SupportTicket(
                    customer_id=customer_id,
                    external_id=ticket_id,
                    opened_at=opened,
                    subject=subject,
                )
            )
        with transaction.atomic():
            SupportTicket.objects.bulk_create(
                writes,
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["tenant", "customer", "external_id"],
                update_fields=["opened_at", "subject"],
            )
        return report
