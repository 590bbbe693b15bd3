"""The Alembic chain upgrades an empty database on SQLite and PostgreSQL, with no drift from the models."""

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import database_url, requires_postgres

ROOT = Path(__file__).resolve().parent.parent


def flask(*args: str, database: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database, "FLASK_APP": "wsgi.py", "LEADFLOW_CONFIG": "development"}
    env.pop("TEST_DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def upgrade_and_check(database: str) -> None:
    upgraded = flask("db", "upgrade", database=database)
    assert upgraded.returncode == 0, upgraded.stderr
    checked = flask("db", "check", database=database)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "No new upgrade operations detected" in checked.stdout + checked.stderr


def assert_refused(engine, statement: str) -> None:
    with engine.connect() as conn:
        try:
            conn.execute(sa.text(statement))
        except sa.exc.DBAPIError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"the audit log accepted: {statement}")


def test_migrations_upgrade_an_empty_sqlite_file_without_drift(tmp_path):
    upgrade_and_check(f"sqlite:///{tmp_path / 'fresh.db'}")


@contextmanager
def scratch_postgres(prefix: str):
    """A new, empty PostgreSQL database for one test (its URL), dropped afterwards."""
    server = sa.make_url(database_url().replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@requires_postgres
def test_migrations_upgrade_an_empty_postgres_database_without_drift():
    with scratch_postgres("leadflow_migrate") as fresh:
        upgrade_and_check(fresh)
        engine = sa.create_engine(fresh)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO audit_events (action, entity_type, entity_id, created_at) "
                    "VALUES ('test', 'x', '1', now())"
                )
            )
        assert_refused(engine, "UPDATE audit_events SET action = 'tampered'")
        with engine.connect() as conn:
            index = conn.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_leads_assignee_value'"))
            assert "lead_value DESC NULLS LAST" in index.scalar_one()  # the migration-only index
        reseeded = flask("seed-scale", "--cps", "3", "--leads", "40", "--reset", database=fresh)
        assert reseeded.returncode == 0, reseeded.stderr  # the benchmark wipe passes the TRUNCATE guard on purpose
        assert_refused(engine, "TRUNCATE audit_events")  # the guard is back after seed-scale's wipe
        engine.dispose()


def test_the_fee_ready_migration_counts_the_fees_already_there(tmp_path):
    """c41f0e2b9a7d adds rollups.fee_ready to a database with data: its backfill must equal what the rollup hook
    keeps (the demo data has fees ready to settle, waiting for a payment and settled)."""
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    for step in (("db", "upgrade"), ("seed-demo",), ("db", "downgrade", "7b1e2c9d4a10"), ("db", "upgrade")):
        done = flask(*step, database=database)
        assert done.returncode == 0, done.stderr
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        ready = conn.execute(sa.text("SELECT sum(fee_ready) FROM rollup_daily WHERE period = 'month'")).scalar()
    engine.dispose()
    assert ready > 0
    checked = flask("rebuild-rollups", "--check", database=database)
    assert checked.returncode == 0 and "reconcile with the rows" in checked.stdout, checked.stdout + checked.stderr


def _owners_after_the_members_migration(database: str) -> None:
    """a1f0c0de0007 on a database with partners: each partner's user becomes the owner of its team."""
    for step in (("db", "upgrade"), ("seed-demo",), ("db", "downgrade", "a1f0c0de0006"), ("db", "upgrade")):
        done = flask(*step, database=database)
        assert done.returncode == 0, done.stderr
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        partners = set(conn.execute(sa.text("SELECT id, user_id FROM channel_partners")).all())
        owners = set(
            conn.execute(
                sa.text("SELECT partner_id, user_id FROM partner_members WHERE role = 'owner' AND status = 'active'")
            ).all()
        )
    engine.dispose()
    assert len(partners) >= 5 and owners == partners


def test_the_members_migration_makes_each_partners_user_its_owner_on_sqlite(tmp_path):
    _owners_after_the_members_migration(f"sqlite:///{tmp_path / 'demo.db'}")


@requires_postgres
def test_the_members_migration_makes_each_partners_user_its_owner_on_postgres():
    with scratch_postgres("leadflow_members") as database:
        _owners_after_the_members_migration(database)


def _intake_after_the_intake_migration(database: str) -> None:
    """a1f0c0de0008 on a database with leads: they were accepted before review existed, so they come back approved
    (distributed when allocated), confirmed when created, normalised and scored; categories get unique slugs."""
    for step in (("db", "upgrade"), ("seed-demo",), ("db", "downgrade", "a1f0c0de0007"), ("db", "upgrade")):
        done = flask(*step, database=database)
        assert done.returncode == 0, done.stderr
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT allocation_status, intake_status, confirmed_at, created_at, contact_email, email_normalized, "
                "phone_e164, quality_score, originated_by, channel FROM leads"
            )
        ).all()
        slugs = conn.execute(sa.text("SELECT slug FROM categories")).scalars().all()
    engine.dispose()
    assert len(rows) > 40
    for row in rows:
        assert row.intake_status == ("distributed" if row.allocation_status == "allocated" else "approved")
        assert row.confirmed_at == row.created_at and row.channel == ("portal" if row.originated_by else "admin")
        assert (row.email_normalized is None) == (row.contact_email is None)
    assert any(row.phone_e164 and row.phone_e164.startswith("+") for row in rows)
    assert max(row.quality_score for row in rows) > 0
    assert len(set(slugs)) == len(slugs) and "solar-energy" in slugs


def test_the_intake_migration_backfills_leads_on_sqlite(tmp_path):
    _intake_after_the_intake_migration(f"sqlite:///{tmp_path / 'demo.db'}")


@requires_postgres
def test_the_intake_migration_backfills_leads_on_postgres():
    with scratch_postgres("leadflow_intake_mig") as database:
        _intake_after_the_intake_migration(database)
