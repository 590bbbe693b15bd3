"""Channel partner management: tabs Approved / Pending approval / Manually add, approve, reject, suspend."""

import sqlalchemy as sa
from flask import flash, redirect, request, url_for
from flask_login import current_user

from app.accounts import operations as accounts
from app.extensions import db
from app.loaders import load_partner
from app.models import ChannelPartner
from app.partners import profiles
from app.portals.admin import bp
from app.portals.admin.forms import ManualAddForm, ReviewNoteForm
from app.portals.admin.partner_settings import detail_forms
from app.validators import query_page
from app.web import is_htmx_partial, render

TABS = {"approved": ("approved", "inactive", "suspended"), "pending": ("pending",), "rejected": ("rejected",)}
PAGE_SIZE = 25


def _partners(tab: str, page: int, query: str):
    stmt = profiles.partners_statement(TABS[tab], query).order_by(ChannelPartner.created_at.desc())
    return db.paginate(stmt, page=page, per_page=PAGE_SIZE, error_out=False)


def _counts() -> dict:
    rows = db.session.execute(sa.select(ChannelPartner.status, sa.func.count()).group_by(ChannelPartner.status))
    counts = dict(rows.all())
    return {tab: sum(counts.get(s, 0) for s in statuses) for tab, statuses in TABS.items()}


@bp.get("/partners")
def partners():
    tab = request.args.get("tab", "approved")
    if tab == "add":
        return render("admin/partners/page.html", tab=tab, form=ManualAddForm(), counts=_counts())
    tab = tab if tab in TABS else "approved"
    page = query_page(request.args)
    query = (request.args.get("q") or "").strip()[:100]
    pagination = _partners(tab, page, query)
    return render(
        "admin/partners/page.html",
        partial="admin/partners/partials/_table.html",
        tab=tab,
        pagination=pagination,
        q=query,
        counts=_counts(),
        note_form=ReviewNoteForm(),
    )


@bp.get("/partners/<partner_id>")
def partner_detail(partner_id):
    partner = load_partner(partner_id)
    return render(
        "admin/partners/detail.html",
        partner=partner,
        profile=profiles.profile_view(partner, current_user),
        note_form=ReviewNoteForm(),
        **detail_forms(partner),
    )


def _row_response(partner, message: str | None = None, status: int = 200):
    return render(
        "admin/partners/detail.html",
        partial="admin/partners/partials/_row.html",
        partner=partner,
        profile=profiles.profile_view(partner, current_user),
        message=message,
        note_form=ReviewNoteForm(),
        status=status,
        **detail_forms(partner),
    )


def _act(partner_id, action, success: str):
    partner = load_partner(partner_id)
    form = ReviewNoteForm()
    if not form.validate():
        return _row_response(partner, "; ".join(e for errs in form.errors.values() for e in errs), 422)
    try:
        action(partner, form.note.data or "")
    except accounts.AccountError as exc:
        db.session.rollback()
        return _row_response(partner, str(exc), 409)
    db.session.commit()
    if not is_htmx_partial():
        flash(success, "success")
        return redirect(url_for("admin.partner_detail", partner_id=partner.id))
    return _row_response(partner, success)


@bp.post("/partners/<partner_id>/approve")
def partner_approve(partner_id):
    return _act(partner_id, lambda p, _note: accounts.approve_cp(p, current_user), "Approved; welcome email sent.")


@bp.post("/partners/<partner_id>/reject")
def partner_reject(partner_id):
    return _act(
        partner_id, lambda p, note: accounts.reject_cp(p, current_user, note), "Rejected; the partner was told."
    )


@bp.post("/partners/<partner_id>/suspend")
def partner_suspend(partner_id):
    return _act(partner_id, lambda p, _n: accounts.set_suspended(p, current_user, True), "Suspended.")


@bp.post("/partners/<partner_id>/reactivate")
def partner_reactivate(partner_id):
    return _act(partner_id, lambda p, _n: accounts.set_suspended(p, current_user, False), "Reactivated.")


@bp.post("/partners/<partner_id>/welcome-email")
def partner_welcome_email(partner_id):
    return _act(
        partner_id,
        lambda p, _n: accounts.send_welcome_credentials(p.user, current_user),
        "Welcome email with a new set-password link sent.",
    )


@bp.post("/partners/add")
def partner_add():
    form = ManualAddForm()
    if form.validate_on_submit():
        try:
            user = accounts.manual_add_cp(form.name.data, form.company_name.data, form.email.data, current_user)
        except accounts.AccountError as exc:
            db.session.rollback()
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{user.partner.company_name} added. Send the welcome email to give them their login.", "success")
            return redirect(url_for("admin.partner_detail", partner_id=user.partner.id))
    return render(
        "admin/partners/page.html",
        partial="admin/partners/partials/_add_form.html",
        tab="add",
        form=form,
        counts=_counts(),
        status=422,
    )
