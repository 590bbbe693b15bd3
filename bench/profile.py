"""Profile one page in-process: each SQL statement with its time, slowest first (a helper for fixing hot paths).

python bench/profile.py ROLE PATH [PATH ...]      ROLE: cp | cp_small | admin | super
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

EMAILS = {"cp": "bench-cp@scale.test", "cp_small": "bench-cp-small@scale.test",
          "admin": "bench-admin@scale.test", "super": "bench-super@scale.test"}  # fmt: skip
statements: list = []


@sa.event.listens_for(Engine, "before_cursor_execute")
def _start(conn, cursor, statement, parameters, context, executemany):
    conn.info["t0"] = time.perf_counter()


@sa.event.listens_for(Engine, "after_cursor_execute")
def _end(conn, cursor, statement, parameters, context, executemany):
    statements.append((time.perf_counter() - conn.info.pop("t0"), statement, parameters))


def main(role: str, paths: list[str]) -> None:
    from app import create_app
    from app.accounts import sessions
    from app.extensions import db
    from app.models import User
    from bench.run import encryption_keys

    app = create_app("production", SECRET_KEY="x" * 40, ENCRYPTION_KEYS=encryption_keys(), SESSION_COOKIE_SECURE=False)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == EMAILS[role]))
        user_token = user.get_id()
        session_id = str(sessions.start(user).id)
        db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session.update({"_user_id": user_token, "_fresh": True, sessions.SESSION_KEY: session_id})
    for path in paths:
        for _attempt in ("warm", "measured"):
            statements.clear()
            started = time.perf_counter()
            response = client.get(path, headers={"HX-Request": "true"} if "preview" in path else {})
            total = time.perf_counter() - started
        sql = sum(s[0] for s in statements)
        print(f"\n{path}: HTTP {response.status_code}, {total * 1000:.0f} ms, {len(statements)} statements "
              f"({sql * 1000:.0f} ms in SQL)")  # fmt: skip
        ranked = sorted(statements, key=lambda s: -s[0])
        for seconds, statement, params in ranked[:6]:
            print(f"  {seconds * 1000:8.1f} ms  {' '.join(statement.split())[:400]}  {str(params)[:200]}")
        if os.environ.get("EXPLAIN"):
            explain(app, ranked[: int(os.environ["EXPLAIN"])])


def explain(app, ranked) -> None:
    """EXPLAIN ANALYZE the slowest statements, with their full SQL."""
    from app.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        for _seconds, statement, params in ranked:
            print("\n" + statement % {k: repr(str(v)) for k, v in (params or {}).items()})
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).scalars().all()
            print("\n".join(plan))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
