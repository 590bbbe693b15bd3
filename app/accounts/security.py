"""A user's own view of their logins: the active sessions (and ending them) and the new-device sign-in email.

SPEC §9.1: new-device logins are emailed; a user can see and end their other sessions. Ending a session only marks
its row ended (app/accounts/sessions.py): the browser holding it is logged out on its next request.
"""

import re
import uuid

import sqlalchemy as sa
from flask import current_app

from app.audit import trail as audit
from app.comms import notifications
from app.extensions import db
from app.models import User, UserSession
from app.models.base import utcnow

NEW_SIGN_IN_SUBJECT = "New sign-in to LeadFlow PM"

_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|HeadlessChrome/")),
    ("Safari", re.compile(r"Safari/")),
)
_SYSTEMS = (
    ("iPhone", re.compile(r"iPhone")),
    ("iPad", re.compile(r"iPad")),
    ("Android", re.compile(r"Android")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux")),
)


def describe_device(user_agent: str | None) -> str:
    """A name such as "Firefox on Windows" from a User-Agent header; "Unknown browser" when it says nothing we know."""
    text = user_agent or ""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(text)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(text)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "Unknown browser")


def _live(user: User):
    """Rows of `user` not ended and not past the idle or absolute timeout (such a row ends when next used)."""
    now, config = utcnow(), current_app.config
    return (
        UserSession.user_id == user.id,
        UserSession.ended_at.is_(None),
        UserSession.created_at > now - config["SESSION_ABSOLUTE_TIMEOUT"],
        UserSession.last_seen_at > now - config["SESSION_IDLE_TIMEOUT"],
    )


def active_sessions(user: User) -> list[UserSession]:
    """The user's live sessions, the most recently used first."""
    return list(
        db.session.scalars(
            sa.select(UserSession).where(*_live(user)).order_by(UserSession.last_seen_at.desc(), UserSession.id)
        )
    )


def own_session(user: User, session_id: uuid.UUID) -> UserSession | None:
    """One of the user's own sessions, or None (another user's id is as unknown as a made-up one)."""
    return db.session.scalar(sa.select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id))


def end_session(user: User, row: UserSession) -> bool:
    """End one of the user's sessions (logged out at its next request); False if it had ended already."""
    ended = db.session.execute(
        sa.update(UserSession)
        .where(UserSession.id == row.id, UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(row, ["ended_at"])
    if ended:
        audit.record(
            user,
            "session.ended",
            ("user_sessions", row.id),
            after={"ip": row.ip, "device": describe_device(row.user_agent)},
        )
    return bool(ended)


def end_other_sessions(user: User, keep: uuid.UUID | None) -> int:
    """End every session of the user except `keep` (this browser's); returns how many ended."""
    where = [UserSession.user_id == user.id, UserSession.ended_at.is_(None)]
    if keep is not None:
        where.append(UserSession.id != keep)
    ended = db.session.execute(
        sa.update(UserSession).where(*where).values(ended_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    if ended:
        audit.record(user, "session.others_ended", ("users", user.id), after={"sessions_ended": ended})
    return ended


def email_new_sign_in(user: User, ip: str | None, user_agent: str | None) -> None:
    """Tell the user of a login from a browser that had never logged in to their account (a security email:
    sent through the outbox like every email, and not one the user can mute)."""
    notifications.queue_email(
        user,
        "new_sign_in",
        NEW_SIGN_IN_SUBJECT,
        {
            "name": user.display_name,
            "when": utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            "ip": ip or "unknown",
            "browser": describe_device(user_agent),
            "security_path": notifications.path_for("account.security"),
        },
    )
