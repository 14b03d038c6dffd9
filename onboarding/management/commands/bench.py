"""`manage.py bench`: the set-based jobs at scale, each timed against a plain SQL baseline.

PostgreSQL only. Creates a throw-away tenant, fills it with set-based SQL (generate_series), and
reports, side by side in one run, as ratios of median wall-clock times:

1. the daily health computation (`onboarding.health.compute_health`) for N onboardings with 10 tasks
   each, against one plain SQL aggregate over the same task rows (goal: within 5x);
2. the reminder build (`onboarding.services.reminders.build_digests`) over the same tasks
   (N * 10 of them), against one indexed scan of the rows due (goal: within 3x);
3. the Celery messages the nightly fan-outs publish (counted by patching `Task.apply_async`, so
   nothing reaches a broker) against the budget of one per 1,000 onboardings plus one per digest;
4. the peak resident memory of a separate process that runs the health batch (goal: < 300 MB).

Everything the run created is deleted at the end (--keep to leave it for inspection).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership, Tenant, User
from accounts.services import create_tenant
from onboarding.models import (
    Contact,
    Customer,
    EngagementEvent,
    HandoffDocument,
    HealthScore,
    Milestone,
    Onboarding,
    PortalAccess,
    SupportTicket,
    Task,
    TrainingCompletion,
    TrainingResource,
    UsageRecord,
)
from portal.tenancy.context import tenant_context


def q(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


class Command(BaseCommand):
    help = "Benchmark the health computation and the reminder build at scale (PostgreSQL only)."

    def _create_database(self) -> None:
        """`make bench` on a fresh machine: the scratch database need not exist yet."""
        import psycopg2
        from psycopg2 import sql

        db = settings.DATABASES["default"]
        params = {
            "user": db["USER"] or None,
            "password": db["PASSWORD"] or None,
            "host": db["HOST"] or None,
            "port": db["PORT"] or None,
        }
        try:
            psycopg2.connect(dbname=db["NAME"], **params).close()
            return  # it exists (and the maintenance database need not be reachable)
        except psycopg2.OperationalError:
            pass
        server = psycopg2.connect(dbname="postgres", **params)
        server.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with server.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
                if cursor.fetchone() is None:
                    cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
                    self.say(f"Created database {db['NAME']}.")
        finally:
            server.close()

    def add_arguments(self, parser):
        parser.add_argument("--onboardings", type=int, default=100_000)
        parser.add_argument("--tasks-per-onboarding", type=int, default=10)
        parser.add_argument("--repeat", type=int, default=3, help="timed runs of each job")
        parser.add_argument("--keep", action="store_true", help="leave the bench tenant behind")
        parser.add_argument("--markdown", type=Path, help="also write the table to this file")
        parser.add_argument(
            "--drop-leftovers",
            action="store_true",
            help="delete the tenants of earlier runs (slug bench-*) left by --keep or a crash",
        )
        parser.add_argument(
            "--create-database",
            action="store_true",
            help="create the DATABASE_URL database if it does not exist, and stop",
        )
        # Internal: the separate process whose peak memory is measured.
        parser.add_argument("--health-child", type=int, help=parse_hidden())
        parser.add_argument("--idle-child", action="store_true", help=parse_hidden())

    def handle(self, *args, **opts):
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench runs on PostgreSQL only: set DATABASE_URL=postgres://... (a scratch "
                f"database; this one is {connection.vendor})."
            )
        if opts["create_database"]:
            self._create_database()
            return
        if opts["idle_child"]:
            self._report_self(0)
            return
        if opts["health_child"]:
            self._health_child(opts["health_child"])
            return
        for old in Tenant.objects.filter(slug__regex=r"^bench-[0-9a-f]{6}$"):
            if not opts["drop_leftovers"]:
                raise CommandError(
                    f"Tenant {old.slug} of an earlier run is still here: --drop-leftovers."
                )
            self.say(f"Dropping {old.slug} of an earlier run ...")
            self._cleanup(old, old.slug)
        self.n = opts["onboardings"]
        self.k = opts["tasks_per_onboarding"]
        self.repeat = max(1, opts["repeat"])
        self.rows: list[tuple[str, str, str, str, str, str]] = []
        started = time.perf_counter()
        slug = f"bench-{secrets.token_hex(3)}"
        self.say(f"Creating tenant {slug} with {self.n:,} onboardings x {self.k} tasks ...")
        tenant = create_tenant(name="Benchmark", slug=slug, time_zone="America/New_York")
        try:
            self.today = tenant.local_today()
            t0 = time.perf_counter()
            self._generate(tenant)
            self.say(f"  generated in {time.perf_counter() - t0:.1f} s")
            self._bench_health(tenant)
            self._bench_reminders(tenant)
            self._bench_messages(tenant)
            self._bench_memory(tenant)
        finally:
            if opts["keep"]:
                self.say(f"Kept tenant {slug} (id {tenant.pk}).")
            else:
                t0 = time.perf_counter()
                self._cleanup(tenant, slug)
                self.say(f"Cleaned up in {time.perf_counter() - t0:.1f} s")
        table = self._table()
        self.stdout.write("")
        self.stdout.write(table)
        self.stdout.write(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
        if opts["markdown"]:
            opts["markdown"].write_text(table + "\n")

    # --- Output ------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def add(self, measure, candidate, baseline, ratio, goal, ok) -> None:
        self.rows.append((measure, candidate, baseline, ratio, goal, ok))

    def _table(self) -> str:
        head = ("Measure", "Job", "Baseline", "Ratio", "Goal", "Met")
        lines = [
            f"PostgreSQL {connection.pg_version // 10000}, {self.n:,} onboardings, "
            f"{self.n * self.k:,} tasks, median of {self.repeat} "
            f"run{'s' if self.repeat != 1 else ''}, "
            f"{_cpus()} CPU(s), load average at the end {_load()}, {dt.date.today():%Y-%m-%d}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    # --- Timing ------------------------------------------------------------------------------

    def _rounds(self, steps: list[tuple[str, Callable[[], object]]]) -> dict[str, tuple]:
        """Run the steps in turn, `repeat` rounds, so that every side of a ratio sees the same
        load; steps named with a leading "-" are untimed (resets). Median seconds per step."""
        times: dict[str, list[float]] = {}
        results: dict[str, object] = {}
        for _ in range(self.repeat):
            for name, fn in steps:
                t0 = time.perf_counter()
                results[name] = fn()
                times.setdefault(name, []).append(time.perf_counter() - t0)
        return {
            name: (statistics.median(values), results[name])
            for name, values in times.items()
            if not name.startswith("-")
        }

    def _scalar(self, sql: str, params=()) -> object:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def _count(self, model, tenant: Tenant) -> int:
        sql = f"SELECT count(*) FROM {q(model)} WHERE tenant_id = %s"  # noqa: S608
        return self._scalar(sql, [tenant.pk])

    def _exec(self, sql: str, params=()) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def _insert(self, model, sql: str, params: dict) -> int:
        """Run `INSERT INTO table (columns) SELECT ...`, filling every other column of the model
        with its Django default, so that fields added later do not break the benchmark."""
        match = re.match(r"\s*INSERT INTO (\S+) \((.*?)\)\s*(SELECT .*)", sql, re.S)
        if match is None or match[1] != q(model):
            raise CommandError(f"not an INSERT ... SELECT into {q(model)}")
        given = {c.strip() for c in match[2].split(",")}
        extra_cols, extra_vals = [], []
        for f in model._meta.concrete_fields:
            if f.primary_key or f.column in given:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = timezone.now()
            elif f.has_default():
                value = f.get_default()
            elif f.null:
                value = None
            elif f.get_internal_type() in ("CharField", "TextField", "EmailField", "SlugField"):
                value = ""
            else:
                raise CommandError(f"bench does not know how to fill {model.__name__}.{f.name}")
            key = f"fill_{model._meta.db_table}_{f.column}"
            params[key] = f.get_db_prep_save(value, connection)
            extra_cols.append(connection.ops.quote_name(f.column))
            extra_vals.append(f"%({key})s")
        if not extra_cols:
            return self._exec(sql, params)
        columns = ", ".join([*given_in_order(match[2]), *extra_cols])
        wrapped = (
            f"INSERT INTO {match[1]} ({columns}) "  # noqa: S608
            f"SELECT src.*, {', '.join(extra_vals)} FROM ({match[3]}) src"
        )
        return self._exec(wrapped, params)

    # --- The data ----------------------------------------------------------------------------

    def _generate(self, tenant: Tenant) -> None:
        p = {
            "t": tenant.pk,
            "n": self.n,
            "k": self.k,
            "today": self.today,
            "now": timezone.now(),
            "slug": tenant.slug,
        }
        with transaction.atomic():
            self._insert(
                User,
                f"""INSERT INTO {q(User)} (password, is_superuser, email, full_name, is_active,
                        is_staff, date_joined)
                    SELECT '!', false, %(slug)s || '-u' || i || '@bench.invalid',
                           'Bench user ' || i, true, false, %(now)s
                    FROM generate_series(1, 1050) i""",  # noqa: S608
                p,
            )
            # Users 1..50 are CSMs (members); 51..1050 are client users.
            self._exec(
                f"""CREATE TEMP TABLE bench_users ON COMMIT DROP AS
                    SELECT id, row_number() OVER (ORDER BY id) AS i FROM {q(User)}
                    WHERE email LIKE %(slug)s || '-u%%@bench.invalid'""",  # noqa: S608
                p,
            )
            self._insert(
                Membership,
                f"""INSERT INTO {q(Membership)} (tenant_id, user_id, role, created_at)
                    SELECT %(t)s, id, 'csm', %(now)s FROM bench_users WHERE i <= 50""",  # noqa: S608
                p,
            )
            self._insert(
                Customer,
                f"""INSERT INTO {q(Customer)} (tenant_id, name, created_at)
                    SELECT %(t)s, 'Bench customer ' || i, %(now)s
                    FROM generate_series(1, %(n)s) i""",  # noqa: S608
                p,
            )
            self._insert(
                Onboarding,
                f"""INSERT INTO {q(Onboarding)} (tenant_id, customer_id, name, model, start_date,
                        status, owner_id, welcome_message, crm_source, crm_record_id,
                        created_at)
                    SELECT %(t)s, c.id, 'Bench onboarding ' || c.i,
                           (ARRAY['high', 'mid', 'low'])[c.i %% 3 + 1],
                           %(today)s - (c.i %% 120)::int,
                           CASE WHEN c.i %% 10 = 0 THEN 'closed'
                                ELSE (ARRAY['kickoff', 'setup', 'training', 'go_live'])
                                     [c.i %% 4 + 1]
                           END,
                           u.id, '', '', '', %(now)s
                    FROM (SELECT id, row_number() OVER (ORDER BY id) AS i
                          FROM {q(Customer)} WHERE tenant_id = %(t)s) c
                    JOIN bench_users u ON u.i = c.i %% 50 + 1""",  # noqa: S608
                p,
            )
            self._exec(
                f"""CREATE TEMP TABLE bench_o ON COMMIT DROP AS
                    SELECT id, customer_id, start_date, row_number() OVER (ORDER BY id) AS i
                    FROM {q(Onboarding)} WHERE tenant_id = %(t)s""",  # noqa: S608
                p,
            )
            self._exec("CREATE INDEX ON bench_o (i)")
            self._insert(
                HandoffDocument,
                f"""INSERT INTO {q(HandoffDocument)} (tenant_id, onboarding_id, goals, commitments,
                        risks, currency, seats, modules, account_executive, updated_at)
                    SELECT %(t)s, o.id, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, 'USD', 5 + o.i %% 46,
                           '[]'::jsonb, '',
                           %(now)s
                    FROM bench_o o""",  # noqa: S608
                p,
            )
            self._insert(
                Contact,
                f"""INSERT INTO {q(Contact)} (tenant_id, onboarding_id, side, name, email, role,
                        phone, is_primary, is_key_contact, is_escalation_contact, user_id)
                    SELECT %(t)s, o.id, 'customer', 'Client ' || o.i,
                           'c' || o.i || '@bench-customer.invalid', '', '', true, true,
                           o.i %% 7 = 0, u.id
                    FROM bench_o o JOIN bench_users u ON u.i = 51 + o.i %% 1000""",  # noqa: S608
                p,
            )
            self._insert(
                PortalAccess,
                f"""INSERT INTO {q(PortalAccess)} (tenant_id, onboarding_id, contact_id, user_id,
                        invited_at, accepted_at, revoked_at)
                    SELECT %(t)s, c.onboarding_id, c.id, c.user_id, %(now)s, %(now)s,
                           CASE WHEN c.id %% 50 = 0 THEN %(now)s END
                    FROM {q(Contact)} c WHERE c.tenant_id = %(t)s""",  # noqa: S608
                p,
            )
            self._insert(
                EngagementEvent,
                f"""INSERT INTO {q(EngagementEvent)} (tenant_id, onboarding_id, user_id, kind,
                        created_at)
                    SELECT %(t)s, a.onboarding_id, a.user_id,
                           CASE WHEN e %% 2 = 0 THEN 'visit' ELSE 'sign_in' END,
                           %(now)s - make_interval(days => (a.id + e * 5)::int %% 20,
                                                   hours => e)
                    FROM {q(PortalAccess)} a CROSS JOIN generate_series(0, 2) e
                    WHERE a.tenant_id = %(t)s""",  # noqa: S608
                p,
            )
            self._insert(
                TrainingResource,
                f"""INSERT INTO {q(TrainingResource)} (tenant_id, onboarding_id, title, kind,
                        url, audience, position)
                    SELECT %(t)s, o.id, 'Resource ' || r, (ARRAY['session', 'guide'])[r + 1],
                           '', '', r
                    FROM bench_o o CROSS JOIN generate_series(0, 1) r""",  # noqa: S608
                p,
            )
            self._insert(
                TrainingCompletion,
                f"""INSERT INTO {q(TrainingCompletion)} (tenant_id, resource_id, user_id,
                        completed_at)
                    SELECT %(t)s, r.id, a.user_id, %(now)s - interval '3 days'
                    FROM {q(TrainingResource)} r
                    JOIN {q(PortalAccess)} a ON a.onboarding_id = r.onboarding_id
                    WHERE r.tenant_id = %(t)s AND r.position = 0 AND r.onboarding_id %% 2 = 0
                """,  # noqa: S608
                p,
            )
            self._insert(
                UsageRecord,
                f"""INSERT INTO {q(UsageRecord)} (tenant_id, customer_id, date, active_users)
                    SELECT %(t)s, o.customer_id, %(today)s - 2 * d, (o.i * 7 + d) %% 40
                    FROM bench_o o CROSS JOIN generate_series(0, 6) d""",  # noqa: S608
                p,
            )
            self._insert(
                SupportTicket,
                f"""INSERT INTO {q(SupportTicket)} (tenant_id, customer_id, external_id,
                        opened_at, subject)
                    SELECT %(t)s, o.customer_id, 'T-' || o.i,
                           %(now)s - make_interval(days => (o.i %% 40)::int), 'Help'
                    FROM bench_o o WHERE o.i %% 2 = 0""",  # noqa: S608
                p,
            )
            self._insert(
                Milestone,
                f"""INSERT INTO {q(Milestone)} (tenant_id, onboarding_id, name, success_criteria,
                        due_date, position, achieved_at, is_first_value)
                    SELECT %(t)s, o.id, 'Milestone ' || m, '', o.start_date + 20 * (m + 1), m,
                           CASE WHEN m = 0 AND o.start_date + 20 < %(today)s AND o.i %% 3 <> 0
                                THEN %(now)s - interval '1 day' END,
                           m = 1
                    FROM bench_o o CROSS JOIN generate_series(0, 2) m""",  # noqa: S608
                p,
            )
            # Tasks: due every 9 days from day 3; before today 94% complete (a tenth of them
            # late), 2% blocked, 4% in progress; later ones mostly not started.
            self._insert(
                Task,
                f"""INSERT INTO {q(Task)} (tenant_id, onboarding_id, milestone_id, title,
                        description, owner_side, owner_contact_id, due_date, status,
                        blocked_reason, blocked_on, position, completed_at, version)
                    SELECT %(t)s, o.id, m.id, 'Task ' || x.k, '', x.side,
                           CASE WHEN x.side = 'customer' THEN c.id END,
                           x.due, x.status,
                           CASE WHEN x.status = 'blocked' THEN 'Waiting on access' ELSE '' END,
                           CASE WHEN x.status = 'blocked' THEN x.due END,
                           x.k,
                           CASE WHEN x.status = 'complete'
                                THEN x.due + make_interval(
                                    days => CASE WHEN x.r < 9 THEN 1 ELSE -1 END, hours => 12)
                           END,
                           1
                    FROM bench_o o
                    CROSS JOIN LATERAL (
                        SELECT k, o.start_date + 3 + 9 * k AS due, (o.i * 7 + k * 13) %% 100 AS r,
                               CASE WHEN k %% 2 = 1 THEN 'customer' ELSE 'vendor' END AS side,
                               CASE
                                 WHEN o.start_date + 3 + 9 * k < %(today)s THEN
                                   CASE WHEN (o.i * 7 + k * 13) %% 100 < 94 THEN 'complete'
                                        WHEN (o.i * 7 + k * 13) %% 100 < 96 THEN 'blocked'
                                        ELSE 'in_progress' END
                                 WHEN (o.i * 7 + k * 13) %% 100 < 10 THEN 'in_progress'
                                 WHEN (o.i * 7 + k * 13) %% 100 < 15 THEN 'complete'
                                 ELSE 'not_started' END AS status
                        FROM generate_series(0, %(k)s - 1) k
                    ) x
                    JOIN {q(Milestone)} m
                      ON m.onboarding_id = o.id AND m.position = LEAST(x.k / 4, 2)
                    JOIN {q(Contact)} c ON c.onboarding_id = o.id""",  # noqa: S608
                p,
            )
            # The application keeps achieved_at in step with the tasks (refresh_milestone after
            # every task change); generated data must hold the same invariant.
            self._exec(
                f"""UPDATE {q(Milestone)} m SET achieved_at = %(now)s - interval '1 day'
                    WHERE m.tenant_id = %(t)s AND m.achieved_at IS NULL
                      AND EXISTS (SELECT 1 FROM {q(Task)} k WHERE k.milestone_id = m.id)
                      AND NOT EXISTS (SELECT 1 FROM {q(Task)} k
                                      WHERE k.milestone_id = m.id AND k.status <> 'complete')""",  # noqa: S608
                p,
            )
        with connection.cursor() as cursor:
            for model in (
                Onboarding, Customer, HandoffDocument, Contact, PortalAccess, EngagementEvent,
                TrainingResource, TrainingCompletion, UsageRecord, SupportTicket, Milestone,
                Task, HealthScore,
            ):  # fmt: skip
                cursor.execute(f"VACUUM ANALYZE {q(model)}")
        counts = {
            m.__name__: self._count(m, tenant)
            for m in (Onboarding, Task, Milestone, UsageRecord, EngagementEvent, SupportTicket)
        }
        self.say("  rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    # --- 1. Health ---------------------------------------------------------------------------

    def _bench_health(self, tenant: Tenant) -> None:
        from onboarding.health import compute_health, ensure_formula, health_statement

        self.say("Health: compute_health vs plain aggregates over the same rows ...")
        formula = ensure_formula(tenant)
        select_sql, params = health_statement(tenant, self.today, formula, insert=False)
        tasks_sql = f"""
            SELECT count(*), sum(n), sum(done) FROM (
                SELECT o.id, count(*) AS n,
                       sum(CASE WHEN k.status = 'complete' THEN 1 ELSE 0 END) AS done
                FROM {q(Onboarding)} o JOIN {q(Task)} k ON k.onboarding_id = o.id
                WHERE o.tenant_id = %(tenant)s AND k.tenant_id = %(tenant)s
                GROUP BY o.id) per_onboarding
        """  # noqa: S608
        by = "onboarding_id"
        inputs_sql = f"""
            SELECT count(*), sum(n) FROM (
                SELECT {by} AS k, count(*) AS n FROM {q(Task)}
                WHERE tenant_id = %(tenant)s GROUP BY {by}
                UNION ALL SELECT {by}, count(*) FROM {q(Milestone)}
                WHERE tenant_id = %(tenant)s GROUP BY {by}
                UNION ALL SELECT customer_id, count(*) FROM {q(UsageRecord)}
                WHERE tenant_id = %(tenant)s AND date >= %(usage_from)s GROUP BY customer_id
                UNION ALL SELECT customer_id, count(*) FROM {q(SupportTicket)}
                WHERE tenant_id = %(tenant)s AND opened_at >= %(tickets_from)s
                GROUP BY customer_id
                UNION ALL SELECT {by}, count(*) FROM {q(EngagementEvent)}
                WHERE tenant_id = %(tenant)s AND created_at >= %(engagement_from)s GROUP BY {by}
                UNION ALL SELECT {by}, count(*) FROM {q(PortalAccess)}
                WHERE tenant_id = %(tenant)s GROUP BY {by}
                UNION ALL SELECT {by}, count(*) FROM {q(TrainingResource)}
                WHERE tenant_id = %(tenant)s GROUP BY {by}
                UNION ALL SELECT resource_id, count(*) FROM {q(TrainingCompletion)}
                WHERE tenant_id = %(tenant)s GROUP BY resource_id
                UNION ALL SELECT {by}, count(*) FROM {q(HandoffDocument)}
                WHERE tenant_id = %(tenant)s GROUP BY {by}
                UNION ALL SELECT id, 1 FROM {q(Onboarding)} WHERE tenant_id = %(tenant)s
            ) per_key
        """  # noqa: S608

        def clear():
            self._exec(f"DELETE FROM {q(HealthScore)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
            self._exec(f"VACUUM {q(HealthScore)}")

        def select_only():
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")  # as compute_health does
                cursor.execute(select_sql, params)
                return cursor.fetchone()

        for sql in (tasks_sql, inputs_sql, select_sql):  # warm the cache for every side
            self._scalar(sql, params)
        with connection.cursor() as cursor:
            cursor.execute(inputs_sql, params)
            input_rows = cursor.fetchone()[1]
        timed = self._rounds(
            [
                ("tasks", lambda: self._scalar(tasks_sql, params)),
                ("inputs", lambda: self._scalar(inputs_sql, params)),
                ("select", select_only),
                ("-clear", clear),
                ("job", lambda: compute_health(tenant, self.today)),
                ("rerun", lambda: compute_health(tenant, self.today)),
            ]
        )
        tasks_base, inputs_base = timed["tasks"][0], timed["inputs"][0]
        compute = timed["select"][0]
        job, written = timed["job"]
        rerun, again = timed["rerun"]
        self.say(
            f"  {written:,} scores in {job:.2f} s (computing alone {compute:.2f} s); "
            f"tasks aggregate {tasks_base:.2f} s, all inputs {inputs_base:.2f} s; "
            f"rerun {rerun:.2f} s"
        )
        name = f"Daily health, {self.n:,} onboardings ({written:,} rows written, committed)"
        self.add(
            name,
            f"{job:.2f} s",
            f"{inputs_base:.2f} s: one aggregate over all {input_rows:,} input rows",
            f"{job / inputs_base:.1f}x",
            "≤ 5x",
            "yes" if job / inputs_base <= 5 else "no",
        )
        self.add(
            f"… the same run, against the {self.n * self.k:,} tasks alone",
            f"{job:.2f} s",
            f"{tasks_base:.2f} s: one GROUP BY over the tasks",
            f"{job / tasks_base:.1f}x",
            "≤ 5x",
            "yes" if job / tasks_base <= 5 else "no",
        )
        self.add(
            "… computing the scores as one SELECT (nothing written)",
            f"{compute:.2f} s",
            f"{inputs_base:.2f} s: all input rows",
            f"{compute / inputs_base:.1f}x",
            "(breakdown)",
            "—",
        )
        self.add(
            "Health rerun of the same day (a no-op)",
            f"{rerun:.2f} s ({again} rows)",
            f"{tasks_base:.2f} s: tasks",
            f"{rerun / tasks_base:.1f}x",
            "writes nothing",
            "yes" if again == 0 else "no",
        )

    # --- 2. Reminders ------------------------------------------------------------------------

    def _bench_reminders(self, tenant: Tenant) -> None:
        from onboarding.models import DigestRun, ReminderDigest, ReminderItem
        from onboarding.services.reminders import build_digests, build_params, due_items_count_sql

        self.say("Reminders: build_digests vs one indexed scan of the due rows ...")
        soon_to = self.today + dt.timedelta(days=tenant.reminder_days_ahead)
        baseline_sql = f"""
            SELECT count(*), sum(onboarding_id), max(owner_contact_id) FROM {q(Task)}
            WHERE tenant_id = %s AND status <> 'complete' AND due_date <= %s
        """  # noqa: S608
        params = build_params(tenant, self.today)
        columns = (
            "tenant_id, recipient, queued_for, kind, item_key, key_date, task_id, milestone_id"
        )
        item_table = q(ReminderItem)

        def clear():
            for model in (ReminderItem, ReminderDigest, DigestRun):
                self._exec(f"DELETE FROM {q(model)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
                self._exec(f"VACUUM {q(model)}")

        def build():
            with tenant_context(tenant):
                return build_digests(tenant, self.today)

        def find():
            return self._scalar(due_items_count_sql(), params)

        def record_only():
            # The same item rows, already computed, written into the items table: what recording
            # them costs whatever finds them.
            with transaction.atomic():
                return self._exec(
                    f"INSERT INTO {item_table} ({columns}) SELECT {columns} FROM bench_items"  # noqa: S608
                    " ON CONFLICT DO NOTHING"
                )

        def lean_record():
            # The least any exactly-once record can cost: the same number of rows, four narrow
            # columns under one unique index, in a temporary table (no WAL, no other index).
            with transaction.atomic():
                return self._exec(
                    """INSERT INTO bench_floor
                       SELECT hashtext(recipient),
                              CASE kind WHEN 'due_soon' THEN 1 WHEN 'due_today' THEN 2
                                        WHEN 'overdue' THEN 3 WHEN 'blocked' THEN 4 ELSE 5 END,
                              COALESCE(task_id, milestone_id), key_date
                       FROM bench_items ON CONFLICT DO NOTHING"""
                )

        def indexed(run):
            # The goal's baseline is an indexed scan; on some statistics the planner would pick a
            # sequential one, and the ratio would then measure another thing from run to run.
            with transaction.atomic():
                self._exec("SET LOCAL enable_seqscan = off")
                return run(baseline_sql, [tenant.pk, soon_to])

        def base():
            return indexed(self._scalar)

        due_rows = base()
        clear()
        build()
        self._exec(f"CREATE TEMP TABLE bench_items AS SELECT {columns} FROM {item_table}")  # noqa: S608
        self._exec(
            "CREATE TEMP TABLE bench_floor (r integer, k smallint, i bigint, d date,"
            " UNIQUE (r, k, i, d))"
        )
        timed = self._rounds(
            [
                ("base", base),
                ("-clear", clear),  # finding runs against an empty history, as the build does
                ("find", find),
                ("record", record_only),
                ("-clear", clear),
                ("-truncate", lambda: self._exec("TRUNCATE bench_floor")),
                ("lean", lean_record),
                ("job", build),
            ]
        )
        self._exec("DROP TABLE bench_items, bench_floor")
        base = timed["base"][0]
        job, items = timed["job"]
        found, record = timed["find"][0], timed["record"][0]
        self.digests = self._count(ReminderDigest, tenant)
        plan = indexed(self._plan)
        self.say(
            f"  {items:,} items, {self.digests:,} digests in {job:.2f} s; "
            f"baseline {base:.3f} s over {due_rows:,} due rows ({plan}); "
            f"finding the items {found:.2f} s, writing them alone {record:.2f} s"
            f" (the leanest record {timed['lean'][0]:.2f} s)"
        )
        ratio = job / base
        self.add(
            f"Reminder build over {self.n * self.k:,} tasks ({items:,} items, "
            f"{self.digests:,} digests)",
            f"{job:.2f} s",
            f"{base:.3f} s ({plan}, {due_rows:,} open rows due by today+"
            f"{tenant.reminder_days_ahead})",
            f"{ratio:.1f}x",
            "≤ 3x",
            "yes" if ratio <= 3 else "no",
        )
        self.add(
            "… of which finding the items (the same SELECT, nothing written)",
            f"{found:.2f} s",
            f"{base:.3f} s: the due rows",
            f"{found / base:.1f}x",
            "(breakdown)",
            "—",
        )
        self.add(
            f"… floor: writing the {items:,} computed item rows alone (INSERT from a temp table)",
            f"{record:.2f} s",
            f"{base:.3f} s: the due rows",
            f"{record / base:.1f}x",
            "(breakdown)",
            "—",
        )
        lean, lean_rows = timed["lean"]
        self.add(
            f"… floor of any design: {lean_rows:,} rows of 4 narrow columns under one unique index"
            " (temporary table)",
            f"{lean:.2f} s",
            f"{base:.3f} s: the due rows",
            f"{lean / base:.1f}x",
            "(breakdown)",
            "—",
        )
        clear()

    def _plan(self, sql: str, params) -> str:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            text = " ".join(row[0] for row in cursor.fetchall())
        for kind in ("Index Only Scan", "Bitmap Index Scan", "Index Scan", "Seq Scan"):
            if kind in text:
                return kind.lower()
        return "plan unknown"

    # --- 3. Celery messages ------------------------------------------------------------------

    def _bench_messages(self, tenant: Tenant) -> None:
        from celery.app.task import Task as CeleryTask

        from onboarding import tasks as reminder_tasks
        from onboarding.batching import plan_batches
        from onboarding.tasks_health import fan_out_health, pending_onboardings

        self.say("Celery: messages published by the nightly fan-outs ...")
        self._exec(f"DELETE FROM {q(HealthScore)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
        published: list[str] = []

        def count(task_self, *args, **kwargs):
            published.append(task_self.name)

        # The reminder fan-out as it runs at the tenant's digest hour, before the day's build.
        from onboarding.models import DigestRun

        self._exec(f"DELETE FROM {q(DigestRun)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
        Tenant.objects.filter(pk=tenant.pk).update(skip_weekends=False)
        digest_time = dt.datetime.combine(self.today, dt.time(tenant.digest_hour), tenant.tz)
        t0 = time.perf_counter()
        pending = pending_onboardings()
        find = time.perf_counter() - t0
        with mock.patch.object(CeleryTask, "apply_async", count):
            fan_out_health.run()
            health_messages = len(published)
            reminder_tasks.fan_out_reminders.run(now=digest_time.isoformat())
        reminder_messages = len(published) - health_messages
        onboardings = sum(pending.values())
        digests = getattr(self, "digests", 0)
        budget = math.ceil(onboardings / 1000) + digests
        total = health_messages + reminder_messages
        self.say(
            f"  health {health_messages} message(s) for {onboardings:,} onboardings due "
            f"(found in {find:.2f} s), reminders {reminder_messages}"
        )
        self.add(
            f"Celery messages, nightly run ({onboardings:,} onboardings due, "
            f"{Tenant.objects.count()} tenant(s) in the database)",
            f"{total} (health {health_messages}, reminders {reminder_messages})",
            f"budget {budget:,} = ⌈{onboardings:,}/1,000⌉ + {digests:,} digests",
            "—",
            "≤ budget",
            "yes" if total <= budget else "no",
        )
        # Many small tenants: what plan_batches would send for the same onboardings.
        shapes = {(min(2_000, self.n), max(1, self.n // 2_000)), (self.n, 1)}
        for tenants, each in sorted(shapes):
            batches = plan_batches({i: each for i in range(tenants)})
            self.add(
                f"Health or reminder messages for {tenants:,} tenants x {each:,} "
                f"onboarding{'s' if each != 1 else ''} (planned)",
                f"{len(batches):,}",
                f"budget {math.ceil(tenants * each / 1000):,}",
                f"{len(batches) / math.ceil(tenants * each / 1000):.2f}x",
                "≤ budget",
                "yes" if len(batches) <= math.ceil(tenants * each / 1000) else "no",
            )

    # --- 4. Memory ---------------------------------------------------------------------------

    def _bench_memory(self, tenant: Tenant) -> None:
        self.say("Memory: the health batch in a separate process ...")
        self._exec(f"DELETE FROM {q(HealthScore)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        _, idle = _child([sys.executable, manage, "bench", "--idle-child"])
        written, peak = _child([sys.executable, manage, "bench", "--health-child", str(tenant.pk)])
        self.say(f"  peak RSS {peak:.0f} MB ({written:,} scores); idle Django {idle:.0f} MB")
        self.add(
            f"Peak RSS of the process computing {written:,} health scores",
            f"{peak:.0f} MB",
            f"{idle:.0f} MB (same command, Django loaded, no work)",
            f"{peak / idle:.2f}x",
            "< 300 MB",
            "yes" if peak < 300 else "no",
        )

    def _health_child(self, tenant_id: int) -> None:
        from onboarding.health import compute_health

        tenant = Tenant.objects.get(pk=tenant_id)
        written = compute_health(tenant, tenant.local_today())
        self._report_self(written)

    def _report_self(self, written: int) -> None:
        """The child's answer: rows written and its own peak RSS in kilobytes (Linux)."""
        self.stdout.write(f"{written} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")

    # --- Cleanup -----------------------------------------------------------------------------

    def _cleanup(self, tenant: Tenant, slug: str) -> None:
        """Delete every row of the bench tenant with plain DELETEs; Django's foreign keys are
        deferred on PostgreSQL, so the order does not matter inside one transaction."""
        owned = [
            m
            for m in apps.get_models()
            if any(
                getattr(f, "related_model", None) is Tenant and f.concrete
                for f in m._meta.get_fields()
            )
        ]
        with transaction.atomic():
            if self._scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
                # Every row that could refer to these is deleted too; skipping the foreign-key
                # triggers turns minutes of per-row checks into seconds (superusers only).
                self._exec("SET LOCAL session_replication_role = replica")
            for model in owned:
                column = next(
                    f.column
                    for f in model._meta.get_fields()
                    if getattr(f, "related_model", None) is Tenant and f.concrete
                )
                self._exec(f"DELETE FROM {q(model)} WHERE {column} = %s", [tenant.pk])  # noqa: S608
            self._exec(f"DELETE FROM {q(Tenant)} WHERE id = %s", [tenant.pk])  # noqa: S608
            self._exec(
                f"DELETE FROM {q(User)} WHERE email LIKE %s",  # noqa: S608
                [f"{slug}-u%@bench.invalid"],
            )


def parse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def _child(cmd: list[str]) -> tuple[int, float]:
    """Run a child command; its (rows written, peak RSS in MB) as it reports them itself."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise CommandError(f"{' '.join(cmd[2:])} failed: {done.stderr[-2000:]}")
    written, maxrss_kb = done.stdout.split()[-2:]
    return int(written), int(maxrss_kb) / 1024


def given_in_order(column_list: str) -> list[str]:
    return [c.strip() for c in column_list.split(",")]


def _load() -> str:
    import os

    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
