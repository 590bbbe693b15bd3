"""Email confirmation of self sign-up: the emailed link (48 hours, single use) and "send it again"."""

from flask import flash, redirect
from flask_login import current_user
from flask_wtf import FlaskForm

from app.access import ANY_USER, home_url, public, roles
from app.accounts import limits, recovery, tokens
from app.accounts.operations import AccountError
from app.auth import bp
from app.extensions import db
from app.web import render


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@public
def confirm_email(token):
    """Opened from the email, in any browser: no login needed, the link is the proof. Looking (GET, which mail
    scanners do too) changes nothing; the page's button confirms."""
    form = FlaskForm()
    try:
        if form.validate_on_submit():
            user, just_now = recovery.confirm_email(token)
            db.session.commit()
            return render("auth/confirm.html", confirmed_user=user, just_now=just_now)
        user = tokens.check(token, "confirm_email")
    except tokens.TokenRefused as refused:
        db.session.rollback()
        if refused.user is not None and refused.user.email_confirmed_at is not None:
            return render("auth/confirm.html", confirmed_user=refused.user, just_now=False)  # a second click
        return render("auth/confirm.html", refused=refused, status=404 if refused.reason == "unknown" else 410)
    if user.email_confirmed_at is not None:
        return render("auth/confirm.html", confirmed_user=user, just_now=False)
    return render("auth/confirm.html", unconfirmed_user=user, form=form, status=422 if form.errors else 200)


@bp.post("/confirm/resend")
@roles(*ANY_USER)
def confirm_resend():
    verdict = limits.confirmation_resend(current_user)
    if not verdict.allowed:
        return limits.too_many(verdict, "confirmation emails")
    try:
        recovery.send_confirmation(current_user)
    except AccountError as exc:
        db.session.rollback()
        flash(str(exc), "info")
    else:
        db.session.commit()
        flash(f"We sent a new confirmation link to {current_user.email}. The earlier ones no longer work.", "success")
    return redirect(home_url(current_user))
