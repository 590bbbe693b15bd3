"""Benchmark helpers, switched on only by configuration (never in a normal deployment).

- BENCH_FLOOR=1 adds `/bench/floor`: the floor every hot path is compared with. It runs through the
  whole app (session, login, role gate, CSRF on POST, security headers) but its own work is one
  indexed single-row read (GET) or update (POST) of the current user, rendered by a tiny template.
- BENCH_QUERY_COUNT=1 counts the SQL statements each request runs and returns the number in an
  `X-Query-Count` response header (statements run while a streamed body is sent are not included).
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy.engine import Engine

from app.access import ANY_USER, roles
from app.extensions import db
from app.models import User

bp = Blueprint("bench", __name__)

FLOOR_TEMPLATE = "<!doctype html><title>floor</title><p>{{ email }} · {{ name }} · {{ when }}</p>\n"
_listening = False


@bp.route("/bench/floor", methods=["GET", "POST"])
@roles(*ANY_USER)
def floor():
    """GET: one primary-key read; POST: one primary-key update. The template skips context processors."""
    if request.method == "POST":
        now = datetime.now(UTC).replace(tzinfo=None)
        stmt = sa.update(User).where(User.id == current_user.id).values(updated_at=now)
        row = db.session.execute(stmt.returning(User.email, User.name, User.updated_at)).one()
        db.session.commit()
    else:
        stmt = sa.select(User.email, User.name, User.updated_at).where(User.id == current_user.id)
        row = db.session.execute(stmt).one()
    template = current_app.extensions["bench_floor_template"]
    return template.render(email=row[0], name=row[1], when=row[2])


def _count_statement(_conn, _cursor, _statement, _parameters, context, _executemany) -> None:
    if has_request_context() and not context.execution_options.get("bookkeeping"):
        g.bench_query_count = g.get("bench_query_count", 0) + 1


def _add_header(response):
    response.headers["X-Query-Count"] = str(g.get("bench_query_count", 0))
    return response


def register_bench(app) -> None:
    """Called from create_app only when BENCH_FLOOR or BENCH_QUERY_COUNT is set."""
    global _listening
    if app.config.get("BENCH_FLOOR"):
        app.extensions["bench_floor_template"] = app.jinja_env.from_string(FLOOR_TEMPLATE)
        app.register_blueprint(bp)
    if app.config.get("BENCH_QUERY_COUNT"):
        if not _listening:  # one listener per process, whatever the number of apps
            sa.event.listen(Engine, "before_cursor_execute", _count_statement)
            _listening = True
        app.after_request(_add_header)
