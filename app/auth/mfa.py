"""/auth/mfa: the second login step, and how every login ends (the session, the new-device email and cookie).

After a correct password, a user with MFA on is not logged in yet: the pending login (user id, session version,
the requested `next`, when) waits in the signed session cookie for five minutes while /auth/mfa asks for a code
from the authenticator app or a recovery code. Code attempts are limited per account and per client address
(MFA_RATE_LIMIT), counted before the code is checked, like the password (app/accounts/throttle.py).
"""

import time
import uuid

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.access import MFA_SESSION_KEY, home_url, public
from app.accounts import mfa, security, throttle
from app.auth import _safe_next, _start_session, bp
from app.extensions import db
from app.models import User
from app.web import render

PENDING_KEY = "mfa_pending"
PENDING_SECONDS = 5 * 60


class SecondStepForm(FlaskForm):
    code = StringField("Authentication code", validators=[DataRequired(), Length(max=64)])


def after_password(user: User, next_target: str | None):
    """What a correct password leads to: the second step for a user with MFA on, the login itself otherwise."""
    if not mfa.is_enabled(user):
        return complete_login(user, next_target)
    session.clear()  # nothing of an earlier visit carries over into the login
    session[PENDING_KEY] = {
        "user": str(user.id),
        "version": user.session_version,
        "next": _safe_next(next_target),
        "at": int(time.time()),
    }
    return redirect(url_for("auth.mfa"))


def complete_login(user: User, next_target: str | None, mfa_passed: bool = False):
    """Start the session; a browser without the account's known-device cookie gets one, and the user an email."""
    new_device = throttle.known_device(user.email) is None
    if new_device:
        security.email_new_sign_in(user, request.remote_addr, request.user_agent.string)
    _start_session(user)  # commits, the email's outbox row with it
    if mfa_passed:
        session[MFA_SESSION_KEY] = True
    response = redirect(_safe_next(next_target) or home_url(user))
    if new_device:
        response.set_cookie(
            throttle.DEVICE_COOKIE,
            throttle.device_cookie_value(user.email),
            max_age=throttle.DEVICE_COOKIE_DAYS * 24 * 3600,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    return response


def _pending_login() -> tuple[User | None, dict]:
    """The user of a pending login still valid (not older than five minutes, same session version)."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, {}
    at = pending.get("at")
    if not isinstance(at, int) or not 0 <= time.time() - at <= PENDING_SECONDS:
        return None, {}
    try:
        user = db.session.get(User, uuid.UUID(str(pending.get("user"))))
    except ValueError:
        return None, {}
    if user is None or not user.is_active or user.session_version != pending.get("version"):
        return None, {}
    return user, pending


def _too_many(retry_after: int):
    response = render("errors/generic.html", title="Too many attempts. Please wait a minute and try again.", status=429)
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.route("/mfa", methods=["GET", "POST"], endpoint="mfa")
@public
def second_step():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    user, pending = _pending_login()
    if user is None:
        if session.pop(PENDING_KEY, None) is not None:
            flash("Your sign-in took longer than five minutes. Please log in again.", "warning")
        return redirect(url_for("auth.login"))
    form = SecondStepForm()
    if not form.validate_on_submit():
        return render("auth/mfa.html", form=form, status=422 if form.errors else 200)
    buckets = mfa.throttle_buckets(user.id, request.remote_addr)
    verdict = throttle.login_throttle().attempt(buckets)
    if not verdict.allowed:
        return _too_many(verdict.retry_after)
    how = mfa.verify_login(user, form.code.data)
    if how is None:
        db.session.rollback()
        form.code.errors.append("That code is not right, or it was already used.")
        return render("auth/mfa.html", form=form, status=422)
    throttle.login_throttle().forgive([b for b in buckets if b[1].startswith("mfa-account:")])
    response = complete_login(user, pending.get("next"), mfa_passed=True)
    if how == "recovery":
        left = mfa.recovery_codes_left(user)
        flash(f"You used a recovery code; {left} left. Make new ones on your security page if you run low.", "warning")
    return response
