"""Joining a partner's team (public): an emailed invitation link, or the owner's shared invite code."""

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.access import public
from app.accounts import limits
from app.auth.forms import PASSWORD_RULES
from app.errors import Refused
from app.partners import members
from app.validators import EmailAddress
from app.web import render
from app.web.actions import run_action

bp = Blueprint("join", __name__, url_prefix="/join")


class AcceptForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    password = PasswordField("Password", validators=PASSWORD_RULES)
    confirm = PasswordField("Confirm password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")])


class CodeJoinForm(AcceptForm):
    invite_code = StringField("Invite code", validators=[DataRequired(), Length(max=40)])
    email = EmailField("Email", validators=[DataRequired(), EmailAddress(), Length(max=254)])


def _signed_in_elsewhere():
    """Accepting while logged in would mix two people's accounts: say who is logged in and stop."""
    title = f"You are logged in as {current_user.email}. Log out first to join with another account."
    return render("errors/generic.html", title=title, status=403)


def _welcome(user):
    from app.auth import _start_session  # the login's session row and cookie, as after a password login

    _start_session(user)
    flash(f"Welcome to {user.partner.company_name}.", "success")
    return redirect(url_for("cp.dashboard"))


@bp.route("/<token>", methods=["GET", "POST"])
@public
def accept(token):
    if current_user.is_authenticated:
        return _signed_in_elsewhere()
    try:
        invite = members.find_invite(token)
    except Refused as exc:
        return render("join/invalid.html", message=str(exc), status=410)
    form = AcceptForm()

    def reply(outcome):
        if outcome.ok:
            return _welcome(outcome.result)
        if outcome.error is not None and outcome.error.field is None:
            return render("join/invalid.html", message=str(outcome.error), status=409)
        return render("join/accept.html", form=form, invite=invite, status=422)

    if not form.is_submitted():
        return render("join/accept.html", form=form, invite=invite)
    return run_action(form, lambda f: members.accept(token, f.name.data, f.password.data), reply)


@bp.route("", methods=["GET", "POST"])
@public
def with_code():
    if current_user.is_authenticated:
        return _signed_in_elsewhere()
    form = CodeJoinForm()
    if not form.is_submitted():
        return render("join/code.html", form=form)
    verdict = limits.signup()
    if not verdict.allowed:
        return limits.too_many(verdict, "sign-ups from this address")

    def join(f):
        return members.join_with_code(f.invite_code.data, f.email.data, f.password.data, f.name.data)

    def reply(outcome):
        return _welcome(outcome.result) if outcome.ok else render("join/code.html", form=form, status=422)

    return run_action(form, join, reply)
