"""The owner's team page (/cp/team): members and their roles, invitations by email, the shared invite code."""

from flask import flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.validators import DataRequired, Length

from app.access import OWNER, members
from app.accounts import limits
from app.idempotency import IdempotentForm
from app.loaders import load_invite, load_member
from app.models import PartnerMember
from app.models.members import MEMBER_ROLES
from app.partners import members as team
from app.portals.cp import bp
from app.validators import EmailAddress
from app.web import is_htmx_partial, render
from app.web.actions import run_action

ROLE_CHOICES = [(role, team.ROLE_LABELS[role]) for role in MEMBER_ROLES]


class InviteForm(IdempotentForm):
    email = EmailField("Email", validators=[DataRequired(), EmailAddress(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="manager")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])


class EmptyForm(FlaskForm):
    pass


class CodeForm(IdempotentForm):
    """Making a new code: sent twice, it makes one."""


def _page(status=200, message=None, invite_form=None):
    partner = current_user.partner
    return render(
        "cp/team/page.html",
        partial="cp/team/partials/_team.html",
        status=status,
        partner=partner,
        people=team.members_of(partner),
        invites=team.open_invites(partner),
        invite_form=invite_form or InviteForm(formdata=None),
        role_form=RoleForm,
        message=message,
    )


def _answer(outcome, success: str, **page):
    """A team action's reply: the team section for HTMX, else back to the page (or the page with the errors)."""
    if outcome.ok and not is_htmx_partial():
        flash(success, "success")
        return redirect(url_for("cp.team_page"))
    message = success if outcome.ok else (str(outcome.error) if outcome.error else "Check the form.")
    return _page(outcome.status, message, **page)


def _own_member(member_id) -> PartnerMember:
    return load_member(current_user.partner, member_id)


@bp.get("/team")
@members(OWNER)
def team_page():
    return _page()


@bp.post("/team/invite")
@members(OWNER)
def team_invite():
    verdict = limits.member_invite(current_user)
    if not verdict.allowed:
        return limits.too_many(verdict, "invitations")
    form = InviteForm()

    def invite(f):
        return team.invite(current_user.partner, f.email.data, f.role.data, current_user)

    return run_action(form, invite, lambda o: _answer(o, f"Invitation sent to {form.email.data}.", invite_form=form))


@bp.post("/team/invites/<invite_id>/revoke")
@members(OWNER)
def team_invite_revoke(invite_id):
    row = load_invite(current_user.partner, invite_id)
    return run_action(
        EmptyForm(), lambda _f: team.revoke(row, current_user), lambda o: _answer(o, "Invitation withdrawn.")
    )


@bp.post("/team/members/<member_id>/role")
@members(OWNER)
def team_member_role(member_id):
    member = _own_member(member_id)
    form = RoleForm()
    success = f"{member.user.display_name} is now {team.ROLE_LABELS.get(form.role.data, '')}."
    return run_action(
        form, lambda f: team.change_role(member, f.role.data, current_user), lambda o: _answer(o, success)
    )


def _set_active(member_id, active: bool):
    member = _own_member(member_id)
    name = member.user.display_name
    success = f"{name} can log in again." if active else f"{name} was deactivated; their sessions ended."
    return run_action(
        EmptyForm(), lambda _f: team.set_active(member, current_user, active), lambda o: _answer(o, success)
    )


@bp.post("/team/members/<member_id>/deactivate")
@members(OWNER)
def team_member_deactivate(member_id):
    return _set_active(member_id, False)


@bp.post("/team/members/<member_id>/reactivate")
@members(OWNER)
def team_member_reactivate(member_id):
    return _set_active(member_id, True)


@bp.post("/team/code")
@members(OWNER)
def team_code():
    def regenerate(_f):
        return team.regenerate_code(current_user.partner, current_user)

    return run_action(
        EmptyForm(), regenerate, lambda o: _answer(o, "New invite code made; the old one no longer works.")
    )
