"""Forgotten passwords (/auth/reset) and the emailed password links: reset (1 hour) and set-password (7 days).

/auth/reset answers the same page, after the same work, for any address: the account lookup and the email happen
in a job (app.jobs.tasks.request_password_reset). A link's page checks the token without spending it (mail
scanners open links); the form spends it, sets the password, ends every session of the user and sends them to the
login page, so a second factor (when the account has one) is still asked for.
"""

from flask import flash, redirect, session, url_for
from flask_login import logout_user

from app.access import public
from app.accounts import limits, recovery, sessions, tokens
from app.accounts.operations import normalise_email
from app.auth import bp
from app.auth.forms import NewPasswordForm, ResetRequestForm
from app.extensions import db
from app.jobs.queue import enqueue
from app.web import render


@bp.route("/reset", methods=["GET", "POST"])
@public
def reset_request():
    form = ResetRequestForm()
    if not form.validate_on_submit():
        return render("auth/reset.html", form=form, status=422 if form.errors else 200)
    verdict = limits.reset_request(form.email.data)
    if not verdict.allowed:
        return limits.too_many(verdict, "password reset requests")
    enqueue("app.jobs.tasks.request_password_reset", normalise_email(form.email.data))
    return render("auth/reset_sent.html", email=normalise_email(form.email.data))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token):
    return _password_link(token, "reset_password")


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@public
def set_password(token):
    return _password_link(token, "set_password")


def _refused(refused: tokens.TokenRefused, purpose: str):
    return render(
        "auth/reset_invalid.html",
        reason=refused.reason,
        message=str(refused),
        purpose=purpose,
        status=404 if refused.reason == "unknown" else 410,
    )


def _password_link(token: str, purpose: str):
    try:
        user = tokens.check(token, purpose)
        if not recovery.may_use(user, purpose):
            raise tokens.TokenRefused("inactive", user)
    except tokens.TokenRefused as refused:
        return _refused(refused, purpose)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            recovery.use_password_link(token, purpose, form.new_password.data)
        except tokens.TokenRefused as refused:  # spent by a twin submission a moment ago
            db.session.rollback()
            return _refused(refused, purpose)
        db.session.commit()
        sessions.end_current()  # whoever was logged in on this browser: the next step is the login form
        logout_user()
        session.clear()
        flash("Your password is set. Log in with it now.", "success")
        return redirect(url_for("auth.login"))
    return render("auth/reset_password.html", form=form, user=user, purpose=purpose, status=422 if form.errors else 200)
