"""A request whose transaction only read ends with COMMIT, so PostgreSQL keeps the statements psycopg prepared
(app/web/transactions.py); a transaction that wrote without committing, left changes unflushed, or raised is still
rolled back: nothing half-written reaches the database."""

import pytest
import sqlalchemy as sa
from flask_login import current_user

from app.access import ANY_USER, roles
from app.extensions import db
from app.models import User
from tests import factories
from tests.conftest import login, make_app, requires_postgres


@pytest.fixture
def one_connection_app(app):
    """An app of its own (views can be added to it) whose pool holds one connection, so that every request and
    the test itself use the same one."""
    fresh = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_pre_ping": True})
    with fresh.app_context():
        yield fresh
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def probe_app(one_connection_app):
    """Four views that misbehave in the ways a real view could, on the signed-in user's name."""
    app = one_connection_app

    @app.get("/test/flushed-then-refused")
    @roles(*ANY_USER)
    def flushed_then_refused():
        current_user.name = "Flushed"
        db.session.flush()
        return "refused", 422

    @app.get("/test/written-by-statement")
    @roles(*ANY_USER)
    def written_by_statement():
        db.session.execute(sa.update(User).where(User.id == current_user.id).values(name="Updated"))
        return "refused", 409

    @app.get("/test/changed-not-flushed")
    @roles(*ANY_USER)
    def changed_not_flushed():
        current_user.name = "Unflushed"
        return "left", 200

    @app.get("/test/raised")
    @roles(*ANY_USER)
    def raised():
        current_user.name = "Raised"
        db.session.flush()
        raise RuntimeError("boom")

    return app


def name_of(user_id) -> str:
    db.session.expire_all()
    name = db.session.get(User, user_id).name
    db.session.rollback()  # give the pool's one connection back for the next request
    return name


def test_uncommitted_writes_are_rolled_back_whatever_the_view_did(probe_app):
    user = factories.make_user("admin", name="Original")
    db.session.commit()
    probe_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = login(probe_app.test_client(), user)
    db.session.rollback()  # login read the user again: give the pool's one connection back
    for path, status in (
        ("/test/flushed-then-refused", 422),
        ("/test/written-by-statement", 409),
        ("/test/changed-not-flushed", 200),
        ("/test/raised", 500),
    ):
        assert client.get(path).status_code == status, path
        assert name_of(user.id) == "Original", path


@requires_postgres
def test_read_only_requests_keep_prepared_statements_each_planned_for_its_values(one_connection_app):
    partner = factories.make_partner()
    db.session.commit()
    client = login(one_connection_app.test_client(), partner.user)
    db.session.rollback()  # login read the user again: give the pool's one connection back
    for _ in range(7):  # psycopg prepares a statement the fifth time it runs
        assert client.get("/cp/leads/assigned/kanban").status_code == 200
    connection = db.session.connection()  # the pool's one connection, the requests' connection
    assert connection.execute(sa.text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    prepared = connection.execute(sa.text("SELECT count(*) FROM pg_prepared_statements")).scalar()
    assert prepared > 0, "every request rolled back, and psycopg forgot what it had prepared"
