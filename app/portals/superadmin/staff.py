"""Super admin: staff accounts (/super/staff). List admins and super admins, invite, suspend, reactivate."""

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts import limits, staff
from app.accounts.operations import AccountError
from app.extensions import db
from app.idempotency import IdempotentForm
from app.loaders import get_or_404
from app.models import User
from app.portals.superadmin import bp
from app.validators import EmailAddress
from app.web import htmx_redirect, is_htmx_partial, render


class StaffInviteForm(IdempotentForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), EmailAddress(), Length(max=254)])
    role = SelectField("Role", choices=list(staff.STAFF_ROLES.items()), default="admin")


def load_staff_member(user_id) -> User:
    """An admin or super admin; any other id is not found (partners are not managed here)."""
    user = get_or_404(User, user_id)
    if user.role not in staff.STAFF_ROLES:
        abort(404)
    return user


def _page(form: StaffInviteForm, status: int = 200):
    return render(
        "superadmin/staff/page.html",
        partial="superadmin/staff/partials/_invite_form.html",
        members=staff.staff_list(),
        form=form,
        roles=staff.STAFF_ROLES,
        status=status,
    )


@bp.get("/staff")
def staff_list():
    return _page(StaffInviteForm())


@bp.post("/staff/invite")
def staff_invite():
    form = StaffInviteForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    verdict = limits.staff_invite(current_user)
    if not verdict.allowed:
        return limits.too_many(verdict, "invitations")
    try:
        user = staff.invite(current_user, form.name.data, form.email.data, form.role.data)
    except AccountError as exc:
        db.session.rollback()
        form[exc.field or "email"].errors.append(str(exc))
        return _page(form, 422)
    db.session.commit()
    flash(f"{user.email} is invited as {staff.STAFF_ROLES[user.role].lower()}; the email has a set-password link.")
    return htmx_redirect(url_for("superadmin.staff_list"))  # the whole page changes (a new row), with the message


def _act(user_id, action, success: str):
    """Load → operation → commit → the row again (HTMX), else the page with the message."""
    member = load_staff_member(user_id)
    status, message = 200, success
    try:
        action(member)
    except AccountError as exc:
        db.session.rollback()
        status, message = exc.status, str(exc)
    else:
        db.session.commit()
    if is_htmx_partial():
        row = render_template(
            "superadmin/staff/partials/_row.html",
            member=member,
            message=message,
            status=status,
            roles=staff.STAFF_ROLES,
        )
        response = make_response(row, status)
        response.vary.add("HX-Request")
        return response
    flash(message, "success" if status < 400 else "danger")
    return redirect(url_for("superadmin.staff_list")) if status < 400 else _page(StaffInviteForm(), status)


@bp.post("/staff/<user_id>/suspend")
def staff_suspend(user_id):
    return _act(user_id, lambda m: staff.suspend(m, current_user), "Suspended; their sessions have ended.")


@bp.post("/staff/<user_id>/reactivate")
def staff_reactivate(user_id):
    return _act(user_id, lambda m: staff.reactivate(m, current_user), "Reactivated.")


@bp.post("/staff/<user_id>/invite-again")
def staff_resend_invite(user_id):
    return _act(user_id, lambda m: staff.resend_invite(m, current_user), "Invitation sent again with a new link.")
