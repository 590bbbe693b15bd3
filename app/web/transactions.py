"""Ending a request's transaction so that PostgreSQL keeps its prepared statements.

psycopg prepares a statement the fifth time a connection runs it, so that PostgreSQL parses and analyses it
only once; but it forgets every prepared statement when the connection rolls back, and every request ended
with a rollback (Flask-SQLAlchemy closes the session). A request whose transaction wrote nothing now ends
with a COMMIT instead, which for a read-only transaction is the same thing to the database; a transaction
that wrote anything (and did not commit it) is still rolled back, as is every request that raised.

Plans are still made for each execution with its own values (plan_cache_mode=force_custom_plan, set on
each PostgreSQL connection in app/__init__.py): a generic plan is blind to how skewed the data is (the largest
partner has 3,000 leads, the median 60) and doubled some dashboards when it was tried.
"""

import sqlite3

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.extensions import db

WROTE = "leadflow_wrote"  # Connection.info: a statement other than a read ran in the current transaction
READS = ("SELECT", "SHOW", "EXPLAIN", "SET")
_listening = False


def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    if not conn.info.get(WROTE) and statement.lstrip().split(None, 1)[0].upper() not in READS:
        conn.info[WROTE] = True  # INSERT, UPDATE, DELETE, a data-modifying WITH, DDL, anything unknown


def _transaction_ended(conn) -> None:
    # A connection lost mid-transaction (killed, restarted) cannot be asked for its info: that raises, and so
    # would the rollback that ends every failed request. Its info goes with the DBAPI connection anyway.
    if not conn.invalidated:
        conn.info.pop(WROTE, None)


def _sqlite_write_ahead_log(dbapi_connection, _record) -> None:
    """SQLite (development, the quick test loop): readers and a writer at once, as on PostgreSQL.

    In SQLite's default journal mode a reader that has not finished (a streamed CSV export whose body is still
    being sent) keeps every writer from committing; in WAL mode the writer commits and the reader keeps its
    snapshot. An in-memory database has no WAL: SQLite answers 'memory' and nothing changes.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def register_transactions(app) -> None:
    """Commit, rather than roll back, a request's transaction that only read (PostgreSQL); WAL for SQLite."""
    global _listening
    if not _listening:  # engine-wide listeners: once per process, whatever the number of apps
        sa.event.listen(Engine, "before_cursor_execute", _note_writes)
        sa.event.listen(Engine, "commit", _transaction_ended)
        sa.event.listen(Engine, "rollback", _transaction_ended)
        sa.event.listen(Engine, "connect", _sqlite_write_ahead_log)
        _listening = True

    # Registered after Flask-SQLAlchemy's own teardown, so it runs before the session is closed.
    @app.teardown_appcontext
    def commit_if_read_only(exc) -> None:
        session = db.session()
        transaction = session.get_transaction()
        if exc is not None or transaction is None or not transaction.is_active:
            return
        if session.new or session.dirty or session.deleted:
            return  # changes never flushed: not ours to commit
        try:
            if session.get_bind().dialect.name == "postgresql" and not session.connection().info.get(WROTE):
                session.commit()
        except sa.exc.SQLAlchemyError:
            return  # the database is unreachable or the transaction failed: it is rolled back as before
