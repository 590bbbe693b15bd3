"""Sign-up, login, logout, forced password change and the approval-pending screen."""

import importlib

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.access import ANY_USER, home_url, public, roles
from app.accounts import limits, sessions, throttle
from app.accounts import operations as accounts
from app.auth.forms import ChangePasswordForm, LoginForm, RegisterForm
from app.extensions import db
from app.models.base import utcnow
from app.web import render

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    if not form.validate_on_submit():
        return render("auth/login.html", form=form, status=422 if form.errors else 200)
    buckets = throttle.buckets_for(form.email.data)
    verdict = throttle.login_throttle().attempt(buckets)
    if not verdict.allowed:
        response = render(
            "errors/generic.html", title="Too many attempts. Please wait a minute and try again.", status=429
        )
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    user = accounts.authenticate(form.email.data, form.password.data)
    if user is None or not user.is_active:
        form.password.errors.append("Wrong email or password.")
        if user is not None and user.status == "suspended":
            form.password.errors[-1] = "Wrong email or password, or the account is not active."
        return render("auth/login.html", form=form, status=401)
    throttle.login_throttle().forgive(throttle.account_buckets(form.email.data))
    # With MFA on, the second step (app/auth/mfa.py) comes first; it also starts the session and sets the device cookie.
    from app.auth import mfa  # a section of this package (loaded at the end of this module)

    return mfa.after_password(user, request.args.get("next"))


def _start_session(user) -> None:
    """A fresh cookie session (no fixation) naming a new server-side session row."""
    session.clear()
    row = sessions.start(user)
    login_user(user)
    session[sessions.SESSION_KEY] = str(row.id)
    session.permanent = True
    user.last_login_at = utcnow()
    db.session.commit()


@bp.post("/logout")
@roles(*ANY_USER)
def logout():
    sessions.end_current()
    logout_user()
    session.clear()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = RegisterForm()
    if form.validate_on_submit():
        verdict = limits.signup()  # counted once the form is valid: each of these may create an account
        if not verdict.allowed:
            return limits.too_many(verdict, "sign-ups from your network")
        try:
            user = accounts.register_cp(
                form.email.data, form.password.data, form.company_name.data, form.name.data or ""
            )
        except accounts.AccountError as exc:
            db.session.rollback()
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            _start_session(user)
            return redirect(url_for("auth.pending"))
    return render("auth/register.html", form=form, status=422 if form.errors else 200)


@bp.get("/pending")
@roles(*ANY_USER)
def pending():
    if current_user.status != "pending":
        return redirect(home_url(current_user))
    return render("auth/pending.html")


@bp.route("/change-password", methods=["GET", "POST"])
@roles(*ANY_USER)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data)
        except accounts.AccountError as exc:
            db.session.rollback()
            form.current_password.errors.append(str(exc))
        else:
            db.session.commit()
            sessions.end_current()
            _start_session(current_user._get_current_object())  # new session version: carry on in a fresh session
            flash("Your password has been changed.", "success")
            return redirect(home_url(current_user))
    return render("auth/change_password.html", form=form, status=422 if form.errors else 200)


# Sections whose routes are on this blueprint, imported by name as the portals' sections are (app.portals), so that
# they can take `bp` from here without an import circle.
for _section in ("confirm", "mfa", "reset"):
    importlib.import_module(f"{__name__}.{_section}")
