"""`flask secure-audit-log`: hand the audit log to a role the app cannot become (PostgreSQL).

The append-only triggers on `audit_events` only hold if the app cannot switch them off, and the owner of a
table can (ALTER TABLE ... DISABLE TRIGGER). So the app connects as an ordinary role that owns every
other table, and `audit_events` belongs to `leadflow_audit`, a role nobody logs in as: the app keeps
SELECT and INSERT on it and nothing else (no UPDATE, DELETE, TRUNCATE, ALTER, DROP). Run once after the
first `flask db upgrade`, and again after a migration that recreates the table, as a superuser.
"""

import click
import sqlalchemy as sa

from app.extensions import db

AUDIT_OWNER = "leadflow_audit"


def _url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def secure(admin_engine, app_role: str) -> None:
    """Make AUDIT_OWNER own the audit log and leave `app_role` SELECT and INSERT on it."""
    # Statements are built from constants and the quoted role name: DDL takes no bind parameters.
    app_role_sql = admin_engine.dialect.identifier_preparer.quote(app_role)
    with admin_engine.begin() as conn:
        conn.execute(
            sa.text(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'leadflow_audit') "
                "THEN CREATE ROLE leadflow_audit NOLOGIN; END IF; END $$"
            )
        )
        conn.execute(sa.text(f"ALTER TABLE audit_events OWNER TO {AUDIT_OWNER}"))
        # The owner of a schema may drop anything in it (PostgreSQL 15 gives `public` to the database's owner):
        # the app keeps creating its tables there, but no longer owns the schema that holds the audit log.
        conn.execute(sa.text(f"ALTER SCHEMA public OWNER TO {AUDIT_OWNER}"))
        conn.execute(sa.text(f"GRANT USAGE, CREATE ON SCHEMA public TO {app_role_sql}"))
        conn.execute(sa.text(f"ALTER FUNCTION audit_events_refuse_change() OWNER TO {AUDIT_OWNER}"))
        conn.execute(sa.text(f"REVOKE ALL ON audit_events FROM {app_role_sql}"))
        conn.execute(sa.text(f"GRANT SELECT, INSERT ON audit_events TO {app_role_sql}"))
        sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence('audit_events', 'id')")).scalar()
        if sequence:
            # SELECT too, so the app's role can still take a backup (pg_dump reads every sequence); it cannot set it.
            conn.execute(sa.text(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {app_role_sql}"))


def weaknesses(engine) -> list[str]:
    """What would let the role of `engine` tamper with the audit log (empty when it cannot)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT r.rolsuper, pg_has_role(current_user, c.relowner, 'MEMBER'), "
                "pg_has_role(current_user, n.nspowner, 'MEMBER'), "
                "has_table_privilege('audit_events', 'UPDATE'), has_table_privilege('audit_events', 'DELETE'), "
                "has_table_privilege('audit_events', 'TRUNCATE') "
                "FROM pg_roles r, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE r.rolname = current_user AND c.oid = 'audit_events'::regclass"
            )
        ).one()
    labels = (
        "is a superuser",
        "owns the audit log (so it can disable its triggers)",
        "owns the schema of the audit log (so it can drop it)",
        "may UPDATE it",
        "may DELETE from it",
        "may TRUNCATE it",
    )
    return [label for label, bad in zip(labels, row, strict=True) if bad]


def warn_if_unguarded(app) -> None:
    """At a production start: say so in the log if the app's role could tamper with the audit log."""
    if db.engine.dialect.name != "postgresql":
        return
    try:
        problems = weaknesses(db.engine)
    except sa.exc.DBAPIError:
        return  # not migrated yet
    if problems:
        app.logger.warning(
            "the database role %s %s: run `flask secure-audit-log` (README, Production)",
            db.engine.url.username,
            ", and ".join(problems),
        )


@click.command("secure-audit-log")
@click.option("--admin-url", envvar="DATABASE_ADMIN_URL", required=True, help="A superuser URL of the same database.")
@click.option("--app-role", default=None, help="The role the app connects as (default: the user of DATABASE_URL).")
def secure_audit_log(admin_url: str, app_role: str | None) -> None:
    """Give the audit log to a role the app cannot become, then check the app's role can no longer change it."""
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("Only PostgreSQL has roles; SQLite keeps the audit log append-only in the app.")
    app_role = app_role or db.engine.url.username
    admin_engine = sa.create_engine(_url(admin_url))
    try:
        secure(admin_engine, app_role)
    finally:
        admin_engine.dispose()
    problems = weaknesses(db.engine)
    if problems:
        raise click.ClickException(f"The app's role {app_role} still {', and '.join(problems)}.")
    click.echo(f"The audit log belongs to {AUDIT_OWNER}; {app_role} may only read and append to it.")
