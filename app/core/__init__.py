"""Shared routes: the root redirect and the health check."""

import sqlalchemy as sa
from flask import Blueprint, redirect, url_for
from flask_login import current_user

from app.access import home_url, public
from app.extensions import db, redis_handle

bp = Blueprint("core", __name__)


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.login"))


@bp.get("/healthz", endpoint="healthz")
@public
def healthz():
    status = {"database": "ok", "redis": "not configured"}
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # report, do not raise: this page exists to say what is down
        status["database"] = f"error: {type(exc).__name__}"
    if redis_handle.client is not None:
        try:
            redis_handle.client.ping()
            status["redis"] = "ok"
        except Exception as exc:
            redis_handle.mark_down()
            status["redis"] = f"error: {type(exc).__name__}"
    # Only the database makes this process unfit to serve: without Redis every page still works (jobs wait in
    # the database, limits count per process), so a load balancer must keep sending traffic: 200, "degraded".
    if status["database"] != "ok":
        return {"status": "down", **status}, 503
    return {"status": "ok" if status["redis"] in {"ok", "not configured"} else "degraded", **status}, 200
