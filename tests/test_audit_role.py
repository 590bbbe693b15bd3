"""The app's database role cannot switch the audit log's guard off (PostgreSQL).

A fresh database is migrated as an ordinary role, as in production; `flask secure-audit-log` then hands the
audit log to a role nobody logs in as, and every way of tampering with it is tried as the app's role.
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import database_url, requires_postgres
from tests.report_summary import record

ROOT = Path(__file__).resolve().parent.parent
TAMPERING = (
    "UPDATE audit_events SET action = 'tampered'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
    "ALTER TABLE audit_events DISABLE TRIGGER USER",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "DROP TRIGGER audit_events_append_only ON audit_events",
    "ALTER TABLE audit_events OWNER TO CURRENT_USER",
    "DROP TABLE audit_events",
    "DROP SCHEMA public CASCADE",
    "ALTER TABLE audit_events RENAME TO audit_events_old",
    "SET session_replication_role = replica",
    "CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ "
    "LANGUAGE plpgsql",
    "SET ROLE leadflow_audit",
)


def _psycopg(url: str) -> sa.URL:
    return sa.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _flask(args, database: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database, "FLASK_APP": "wsgi.py", "LEADFLOW_CONFIG": "development"}
    for name in ("TEST_DATABASE_URL", "REDIS_URL", "DATABASE_ADMIN_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def migrated_as_app_role():
    """A fresh database owned by a fresh ordinary role, migrated as that role: (app URL, admin URL)."""
    admin_url = _psycopg(os.environ.get("TEST_DATABASE_ADMIN_URL") or database_url())
    suffix = uuid.uuid4().hex[:8]
    role, name = f"lf_app_{suffix}", f"lf_audit_role_{suffix}"
    admin = sa.create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEROLE"))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" OWNER {role}'))
    app_url = admin_url.set(database=name, username=role, password=None).render_as_string(hide_password=False)
    done = _flask(["db", "upgrade"], app_url)
    assert done.returncode == 0, done.stderr
    try:
        yield app_url, admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def _refused(engine, statement: str) -> bool:
    with engine.connect() as conn:
        try:
            conn.execute(sa.text(statement))
        except sa.exc.DBAPIError:
            return True
        conn.rollback()
    return False


@requires_postgres
def test_the_app_role_cannot_switch_off_or_bypass_the_audit_guard(migrated_as_app_role):
    app_url, admin_url = migrated_as_app_role
    engine = sa.create_engine(app_url)
    # Before: the owner of the table can lift the guard, which is what the issue found.
    assert not _refused(engine, "ALTER TABLE audit_events DISABLE TRIGGER USER")
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))

    done = _flask(["secure-audit-log", "--admin-url", admin_url], app_url)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "may only read and append" in done.stdout

    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_events (action, entity_type, entity_id, created_at) VALUES ('a', 'x', '1', now())"
            )
        )
    refused = [statement for statement in TAMPERING if _refused(engine, statement)]
    record("audit", tampering_tried=len(TAMPERING), tampering_refused=len(refused))
    assert refused == list(TAMPERING)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT action FROM audit_events")).scalars().all() == ["a"]
    from app.db_roles import weaknesses

    assert weaknesses(engine) == []
    engine.dispose()


@requires_postgres
def test_the_command_refuses_to_report_success_without_the_rights(migrated_as_app_role):
    app_url, _admin_url = migrated_as_app_role
    done = _flask(["secure-audit-log", "--admin-url", app_url], app_url)  # the app's own role is no admin
    assert done.returncode != 0
    assert "may only read and append" not in done.stdout


@requires_postgres
def test_the_app_role_can_still_back_up_a_secured_database(migrated_as_app_role, tmp_path):
    """pg_dump reads every sequence, the audit log's too (owned by the audit role since secure-audit-log)."""
    app_url, admin_url = migrated_as_app_role
    assert _flask(["secure-audit-log", "--admin-url", admin_url], app_url).returncode == 0
    done = _flask(["backup", "--to", str(tmp_path)], app_url)
    assert done.returncode == 0, done.stderr + done.stdout
    [backup_set] = [path for path in tmp_path.iterdir() if (path / "manifest.json").exists()]
    assert (backup_set / "manifest.json").stat().st_size > 0
