"""Password reset, set-password links and email confirmation (SPEC §9.1; issue 17, item 6).

The links' tokens are issued inside the email job (app/jobs/tasks._context → email_link), never in the request:
no token is ever written into the outbox row, and a request for an address with no account does the same work
in the request as one for a real account (the lookup happens in the job, see request_reset).
"""

import sqlalchemy as sa

from app.accounts import tokens
from app.accounts.operations import AccountError, find_by_email
from app.accounts.passwords import hash_password
from app.audit import trail as audit
from app.comms import notifications
from app.extensions import db
from app.models import User, UserSession
from app.models.base import utcnow

# Who may reset a forgotten password: not suspended or rejected people (they would get back in by email).
RESETTABLE = ("active", "pending")

# Email template → (token purpose, the endpoint its link opens).
EMAIL_LINKS = {
    "reset_password": ("reset_password", "auth.reset_password"),
    "confirm_email": ("confirm_email", "auth.confirm_email"),
    "welcome_credentials": ("set_password", "auth.set_password"),  # a manually added partner
    "staff_invite": ("set_password", "auth.set_password"),
}


def may_use(user: User, purpose: str) -> bool:
    """Whether `user` may still be sent, and use, a link of this purpose."""
    if purpose == "reset_password":
        return user.status in RESETTABLE
    if purpose == "set_password":
        return user.status == "active" and user.must_change_password
    if purpose == "confirm_email":
        return user.status in RESETTABLE and user.email_confirmed_at is None
    return False


def email_link(template: str, user: User | None) -> str | None:
    """For the email job: a fresh link (a path) for this email's user, or None if it is no longer due."""
    purpose, endpoint = EMAIL_LINKS[template]
    if user is None or not may_use(user, purpose):
        return None
    return notifications.path_for(endpoint, token=tokens.issue(user, purpose))


def request_reset(email: str) -> bool:
    """The job behind /auth/reset: queue a reset email if `email` is an account that may reset. flush() only."""
    user = find_by_email(email)
    if user is None or not may_use(user, "reset_password"):
        return False
    notifications.queue_email(user, "reset_password", "Reset your LeadFlow PM password", {"name": user.display_name})
    audit.record(None, "user.password_reset_requested", user)
    return True


def end_all_sessions(user: User) -> None:
    """Every open session of `user` ends now: the rows (the server's record) and the cookie's version."""
    user.session_version += 1
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def use_password_link(token: str, purpose: str, new_password: str) -> User:
    """Set a new password through a reset or set-password link; every session of the user ends. flush() only.

    The link is checked (and the user's status with it) before it is spent, so a refused user keeps nothing
    and a link is not burnt by a submission that fails.
    """
    user = tokens.check(token, purpose)
    if not may_use(user, purpose):
        raise tokens.TokenRefused("inactive", user)
    user = tokens.redeem(token, purpose)
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()  # the link reached this mailbox: the address is confirmed too
    end_all_sessions(user)
    audit.record(user, "user.password_reset" if purpose == "reset_password" else "user.password_set", user)
    db.session.flush()
    return user


def confirm_email(token: str) -> tuple[User, bool]:
    """Confirm a user's address from the link; returns (user, True if it was confirmed just now).

    A link used again, or replaced by a newer one, for an address that is confirmed already is not an error.
    """
    try:
        user = tokens.redeem(token, "confirm_email")
    except tokens.TokenRefused as refused:
        if refused.user is not None and refused.user.email_confirmed_at is not None:
            return refused.user, False
        raise
    if user.email_confirmed_at is not None:
        return user, False
    user.email_confirmed_at = utcnow()
    audit.record(user, "user.email_confirmed", user, after={"email": user.email})
    db.session.flush()
    return user, True


def send_confirmation(user: User) -> None:
    """Queue a confirmation email (at sign-up, or "resend"); its job issues the link, voiding older ones."""
    if user.email_confirmed_at is not None:
        raise AccountError("Your email address is already confirmed.")
    notifications.queue_email(user, "confirm_email", "Confirm your email address", {"name": user.display_name})
