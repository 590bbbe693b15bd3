"""Shared fixtures: the app on SQLite (quick local loop) or PostgreSQL (TEST_DATABASE_URL, as in CI)."""

import os
import tempfile
import uuid

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db
from tests import factories

_tmpdir = tempfile.mkdtemp(prefix="leadflow-tests-")


def database_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_tmpdir}/test.db"


def is_postgres() -> bool:
    return database_url().startswith(("postgresql", "postgres"))


def redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")


requires_postgres = pytest.mark.skipif(not is_postgres(), reason="needs PostgreSQL: set TEST_DATABASE_URL")
requires_redis = pytest.mark.skipif(not redis_url(), reason="needs Redis: set REDIS_URL")


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production. Without this, a request made while
    the test holds an app context would reuse it, and `g` (Flask-Login's cached user) would leak
    from one request to the next."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(**overrides):
    """An app on the test database. Jobs run in-process unless REDIS_URL is passed in."""
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url().replace("postgresql://", "postgresql+psycopg://", 1),
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "STORAGE_LOCAL_DIR": os.path.join(_tmpdir, "uploads"),
    }
    config.update(overrides)
    app = create_app("test", **config)
    app.test_client_class = FreshContextClient
    return app


@pytest.fixture(scope="session")
def app():
    app = make_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app


def wipe(app) -> None:
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture(autouse=True)
def _clean(app):
    app.extensions["mail_outbox"] = []
    app.extensions["login_throttle"].fallback.reset()  # each test starts with no failed logins counted
    with app.app_context():
        yield
        db.session.rollback()
    wipe(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def mail_outbox(app):
    return app.extensions["mail_outbox"]


def login(client, user):
    """Log a test client in as `user` without going through the password form (a real server-side session)."""
    from app.accounts import sessions

    row = sessions.start(user)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[sessions.SESSION_KEY] = str(row.id)
    return client


def session_row(client):
    """The server-side session row that the client's cookie names."""
    from app.accounts import sessions
    from app.models import UserSession

    with client.session_transaction() as session:
        session_id = session.get(sessions.SESSION_KEY)
    db.session.expire_all()
    return db.session.get(UserSession, uuid.UUID(session_id)) if session_id else None


def age_session(client, *, created_ago, seen_ago) -> None:
    """Make the client's session look as if it started `created_ago` and was last used `seen_ago` ago."""
    from app.models.base import utcnow

    row = session_row(client)
    now = utcnow()
    row.created_at, row.last_seen_at = now - created_ago, now - seen_ago
    db.session.commit()


@pytest.fixture
def login_as(app):
    """login_as("admin") → a client logged in as a new user of that role (or pass a User)."""

    def _login_as(who):
        if isinstance(who, str):
            if who == "channel_partner" or who == "cp":
                user = factories.make_partner().user
            else:
                user = factories.make_user(who)
            db.session.commit()
        else:
            user = who
        return login(app.test_client(), user)

    return _login_as


_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(f"{report.nodeid}: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else ''}")


def pytest_sessionfinish(session, exitstatus):
    """In CI (LEADFLOW_FORBID_SKIPS=1) a skipped test is a failure: PostgreSQL, Redis and Chromium are there."""
    if os.environ.get("LEADFLOW_FORBID_SKIPS") and _skipped:
        print(f"\n{len(_skipped)} test(s) skipped, which CI does not allow:\n  " + "\n  ".join(_skipped))
        session.exitstatus = 1
