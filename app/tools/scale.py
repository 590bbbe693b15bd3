"""`flask seed-scale`: fill PostgreSQL with a realistic, reproducible data set for the benchmark (bench/run.py).

The rows come from app.tools.scale_rows (one seeded random source); this module bulk loads them with COPY
(psycopg 3), then rebuilds the secondary indexes, the rollups and the planner statistics.
"""

import io
import json
import random
import time
from datetime import datetime

import click
import psycopg
import sqlalchemy as sa

from app.extensions import db
from app.tools.scale_contacts import COLUMNS as CONTACT_COLUMNS
from app.tools.scale_contacts import check_phones
from app.tools.scale_rows import (
    ADMIN_EMAIL,
    CP_EMAIL,
    PASSWORD,
    SMALL_CP_EMAIL,
    SUPER_EMAIL,
    Generator,
    Plan,
    check_fee_math,
    ts,
)

# Big tables are loaded without their secondary indexes, which are rebuilt afterwards (much faster).
BULK_TABLES = ("users", "channel_partners", "leads", "commission_transactions", "platform_fee_settlement_items",
               "notifications")  # fmt: skip


COLUMNS = {
    "users": ("id", "email", "password_hash", "name", "role", "status", "must_change_password", "session_version",
              "email_muted_events", "created_at", "updated_at"),
    "channel_partners": ("id", "user_id", "company_name", "contact_phone", "website", "address", "status",
                         "approved_by", "approved_at", "bank_name", "bank_account_number", "bank_account_name",
                         "bank_branch", "bank_swift_code", "created_at", "updated_at", "code"),
    "partner_members": ("id", "partner_id", "user_id", "role", "status", "created_at"),
    "categories": ("id", "name", "description", "is_active", "sort_order", "created_by", "created_at",
                   "updated_at", "slug"),
    "platform_fee_config": ("id", "fee_type", "fee_value", "is_active", "created_by", "effective_from", "notes"),
    "leads": ("id", "title", "description", "category_id", "originated_by", "allocated_to", "created_by",
              "allocation_status", "kanban_stage", "contact_company", "lead_value", "commission_amount", "fee_override_type", "fee_override_value",
              "platform_fee_amount", "net_commission", "fee_capped", "lost_reason", "stage_changed_at", "version",
              "created_at", "updated_at", *CONTACT_COLUMNS),
    "commission_transactions": ("id", "lead_id", "cp_id", "gross_commission", "platform_fee", "net_commission",
                                "lead_value", "status", "fee_rule_type", "fee_rule_value", "fee_rule_source",
                                "fee_config_id", "fee_capped", "won_at", "client_paid_at",
                                "client_payment_reference", "client_paid_cp_directly", "settlement_requested_at",
                                "settled_by", "settled_at", "voided_at", "created_at", "updated_at"),
    "platform_fee_settlements": ("id", "amount", "lead_count", "settled_by", "bank_slip_file_id", "notes",
                                 "idempotency_key", "settled_at"),
    "platform_fee_settlement_items": ("id", "settlement_id", "transaction_id", "lead_id", "amount"),
    "notifications": ("id", "user_id", "type", "event", "title", "message", "link", "is_read", "read_at",
                      "reference_id", "reference_type", "created_at"),
}  # fmt: skip


def _default_text(column) -> str | None:
    """COPY bypasses the models' Python-side defaults: supply them for columns this loader does not name."""
    default = column.default
    if default is None or not default.is_scalar and not default.is_callable:
        return None
    value = default.arg(None) if default.is_callable else default.arg
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return ts(value) if isinstance(value, datetime) else str(value)


def copy_rows(conn, table: str, rows, plan: Plan) -> int:
    """COPY generated rows into `table`, adding model defaults for any column not generated here."""
    started, count, columns = time.perf_counter(), 0, COLUMNS[table]
    extra = [(c.name, _default_text(c)) for c in db.metadata.tables[table].columns if c.name not in columns]
    extra = [(name, value) for name, value in extra if value is not None]
    names = (*columns, *(name for name, _ in extra))
    tail = tuple(value for _, value in extra)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join("\\N" if v is None else v for v in (*row, *tail)))
            buffer.write("\n")
            count += 1
            if count % 20_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    plan.timings.append((table, count, time.perf_counter() - started))
    return count


def prepare(conn, reset: bool) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM leads) + (SELECT count(*) FROM users)")
        if cur.fetchone()[0] and not reset:
            raise click.ClickException("The database is not empty; pass --reset to wipe every table first.")
        if reset:
            names = [t.name for t in reversed(db.metadata.sorted_tables)]
            # A migrated database refuses TRUNCATE of the audit log; wiping a benchmark database on purpose is the
            # one exception, so the guard is lifted inside this transaction only and restored before it commits.
            try:
                cur.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
            except psycopg.errors.InsufficientPrivilege:
                raise click.ClickException(
                    "The audit log is secured (flask secure-audit-log): wipe this database as a superuser."
                ) from None
            cur.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
            cur.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
        for table in BULK_TABLES:
            for index in db.metadata.tables[table].indexes:
                cur.execute(f'DROP INDEX IF EXISTS "{index.name}"')
    conn.commit()


def rebuild_indexes(conn, plan: Plan) -> None:
    """Create every index the models declare (also those added to a model since the last migration)."""
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '256MB'")
        for table in db.metadata.sorted_tables:
            for index in table.indexes:
                cur.execute(str(sa.schema.CreateIndex(index, if_not_exists=True).compile(dialect=db.engine.dialect)))
    conn.commit()
    plan.timings.append(("indexes", 0, time.perf_counter() - started))


def analyze(conn, plan: Plan) -> None:
    started = time.perf_counter()
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")  # fresh statistics and visibility map, as autovacuum would leave them
    conn.autocommit = False
    plan.timings.append(("vacuum analyze", 0, time.perf_counter() - started))


def make_slip(actor_id) -> str:
    """One real bank-slip file shared by every generated settlement, so receipts open."""
    from reportlab.pdfgen import canvas

    from app.files import storage

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 760, "Bank slip (seed-scale): platform fee settlement")
    page.save()
    stored = storage.save_bytes(buffer.getvalue(), "bank_slip", "scale-settlement-slip.pdf", "application/pdf")
    db.session.commit()
    return str(stored.id)


def generate(plan: Plan, reset: bool) -> Generator:
    from app.accounts.passwords import hash_password

    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("seed-scale loads with PostgreSQL COPY: set DATABASE_URL to a PostgreSQL database.")
    raw = db.engine.raw_connection()
    conn = raw.driver_connection
    try:
        prepare(conn, reset)
        gen = Generator(plan, hash_password(PASSWORD), make_slip(None))
        check_fee_math((gen.old_rule, gen.active_rule, *gen.overrides), random.Random(plan.seed))
        check_phones(random.Random(plan.seed), plan.leads)
        copy_rows(conn, "users", gen.users(), plan)
        copy_rows(conn, "channel_partners", gen.partner_rows(), plan)
        copy_rows(conn, "partner_members", gen.member_rows(), plan)
        copy_rows(conn, "categories", gen.category_rows(), plan)
        copy_rows(conn, "platform_fee_config", gen.fee_config_rows(), plan)
        copy_rows(conn, "leads", gen.leads(), plan)
        tx_ids = {}

        def transactions():
            for row in gen.transactions():
                tx_ids[row[1]] = row[0]
                yield row

        copy_rows(conn, "commission_transactions", transactions(), plan)
        copy_rows(conn, "platform_fee_settlements", gen.settlements(tx_ids), plan)
        copy_rows(conn, "platform_fee_settlement_items", iter(gen.items), plan)
        copy_rows(conn, "notifications", gen.notifications(), plan)
        mark_fees_settled(conn, plan)
        conn.commit()
        rebuild_indexes(conn, plan)
    finally:
        raw.close()
    rebuild_rollups(plan)
    raw = db.engine.raw_connection()
    try:
        analyze(raw.driver_connection, plan)
    finally:
        raw.close()
    return gen


def mark_fees_settled(conn, plan: Plan) -> None:
    """The denormalised commission_transactions.fee_settled_at, from the settlement lines just loaded."""
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE commission_transactions t SET fee_settled_at = s.settled_at"
            " FROM platform_fee_settlement_items i JOIN platform_fee_settlements s ON s.id = i.settlement_id"
            " WHERE i.transaction_id = t.id"
        )
        count = cur.rowcount
    plan.timings.append(("fee_settled_at", count, time.perf_counter() - started))


def rebuild_rollups(plan: Plan) -> None:
    """COPY bypasses the session hook that maintains the rollups: fold every loaded row into them once."""
    from app.reporting import rollups

    started = time.perf_counter()
    count = rollups.rebuild()
    db.session.commit()
    plan.timings.append(("rollups (rebuilt from the rows)", count, time.perf_counter() - started))


def seed_scale(cps: int, leads: int, months: int, seed: int, reset: bool) -> None:
    """Bulk-load a large realistic data set into PostgreSQL for the benchmark (`flask seed-scale`, bench/run.py)."""
    if cps < 2 or leads < cps or months < 1:
        raise click.BadParameter("need --cps ≥ 2, --leads ≥ --cps and --months ≥ 1")
    plan = Plan(cps=cps, leads=leads, months=months, seed=seed)
    started = time.perf_counter()
    gen = generate(plan, reset)
    for table, count, seconds in plan.timings:
        rate = f"{count / seconds:>10,.0f} rows/s" if count else ""
        click.echo(f"  {table:<32} {count:>10,} rows {seconds:7.1f} s {rate}")
    click.echo(f"Done in {time.perf_counter() - started:.1f} s. Logins (password {PASSWORD}):")
    small = gen.counts[gen.small_cp_index]
    for email, what in ((SUPER_EMAIL, "super admin"), (ADMIN_EMAIL, "admin"),
                        (CP_EMAIL, f"largest CP, {gen.counts[0]:,} leads"),
                        (SMALL_CP_EMAIL, f"a median CP, {small:,} leads")):  # fmt: skip
        click.echo(f"  {email:<28} {what}")
