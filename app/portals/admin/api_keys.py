"""Every API key (/admin/api-keys): filter by partner, issue a supplier key for a partner (the trusted scope lets its
leads in approved, without review), revoke any key."""

from flask import flash, redirect, request, url_for
from flask_login import current_user
from wtforms import SelectField
from wtforms.validators import DataRequired

from app.accounts import api_keys
from app.extensions import db
from app.models import ChannelPartner
from app.portals.admin import bp
from app.portals.api_key_pages import EmptyForm, KeyForm, key_form, key_row, load_key, page_context, shown_once
from app.validators import query_page, query_uuid
from app.web import is_htmx_partial, render
from app.web.actions import run_action


class IssueForm(KeyForm):
    partner = SelectField("Partner", choices=[], validators=[DataRequired("Choose the partner the key is for.")])


def _issue_form(**kwargs) -> IssueForm:
    form = key_form(IssueForm, **kwargs)
    partners = [(str(row.id), row.company_name) for row in api_keys.issuable_partners()]
    form.partner.choices = [("", "Choose a partner"), *partners]
    return form


def _page(status=200, form=None, created=None, message=None, partial="admin/api_keys/partials/_list.html"):
    partner_id = query_uuid(request.args.get("partner"))
    pagination = api_keys.page_of_keys(partner_id, query_page(request.args))
    return render(
        "admin/api_keys/page.html",
        partial=partial,
        status=status,
        pagination=pagination,
        creators=api_keys.creator_names(pagination.items),
        filter_partners=api_keys.partners_with_keys(),
        partner_id=partner_id,
        form=form or _issue_form(formdata=None),
        created=created,
        message=message,
        **page_context(),
    )


@bp.get("/api-keys", endpoint="api_keys")
def api_keys_page():
    """The keys, newest first (live before revoked); filtering answers the list alone to htmx."""
    return _page()


@bp.post("/api-keys")
def api_keys_issue():
    """Issue a key for the chosen partner, acting for its owner; the answer shows the secret, this once."""
    form = _issue_form()

    def issue(f):
        partner = db.session.get(ChannelPartner, query_uuid(f.partner.data))
        return api_keys.create(current_user, f.name.data, f.scopes.data, partner=partner)

    def answer(outcome):
        whole = "admin/api_keys/partials/_keys.html"
        if not outcome.ok:
            return _page(outcome.status, form=form, message=str(outcome.error or "Check the form."), partial=whole)
        key, secret = outcome.result
        return shown_once(_page(created={"key": key, "secret": secret}, partial=whole))

    return run_action(form, issue, answer)


@bp.route("/api-keys/<key_id>/revoke", methods=["GET", "POST"])
def api_keys_revoke(key_id):
    """GET asks to confirm (without JavaScript); POST revokes, answering the key's row to htmx."""
    key = load_key(key_id)
    if request.method == "GET":
        return render("_partials/api_keys/revoke.html", key=key, back=url_for("admin.api_keys"))

    def answer(outcome):
        if is_htmx_partial():
            return key_row(key, outcome, revoke_endpoint="admin.api_keys_revoke", show_partner=True)
        if outcome.ok:
            flash(f"The key “{key.name}” is revoked: requests with it are refused from now on.", "success")
        else:
            flash(str(outcome.error), "danger")
        return redirect(url_for("admin.api_keys"))

    return run_action(EmptyForm(), lambda _f: api_keys.revoke(key, current_user), answer)
