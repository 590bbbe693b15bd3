"""Super admin: every lead, read-only, and deletion (this role only), audited with the lead's full content."""

from flask import flash, redirect, request, url_for
from flask_login import current_user

from app.extensions import db
from app.leads import deletion, pipeline
from app.leads import queries as lead_queries
from app.loaders import load_lead
from app.portals import lead_cards, lead_views
from app.portals.lead_forms import DeleteLeadForm
from app.portals.superadmin import bp
from app.web import is_htmx_partial, render

bp.context_processor(lead_cards.template_helpers)


PAGES = lead_views.LeadPortal(
    list_page=("/leads", "leads", "superadmin/leads/page.html"),
    page_context=lambda: {"categories": lead_queries.categories()},
)
lead_views.register(bp, PAGES)


@bp.get("/leads/<lead_id>")
def lead_detail(lead_id):
    lead = load_lead(lead_id)
    blockers, needs_second = deletion.money_records(lead)
    ctx = lead_views.panel_context(lead, delete_form=DeleteLeadForm(), blockers=blockers, money_recorded=needs_second)
    return render("superadmin/leads/detail.html", **ctx)


def _delete(lead_id):
    lead = load_lead(lead_id)
    # htmx sends a DELETE's fields in the query string, a POST's in the body: read both.
    form = DeleteLeadForm(formdata=request.values)
    if not form.validate():
        return _refused(lead, form, "Press the Delete button to confirm.", 422)
    title = lead.title
    try:
        deletion.delete_lead(lead, current_user, confirmed_twice=form.confirm_again.data == "yes")
    except pipeline.PipelineError as exc:
        db.session.rollback()
        return _refused(lead, form, str(exc), exc.status, second=isinstance(exc, deletion.NeedsSecondConfirmation))
    db.session.commit()
    flash(f"Lead “{title}” deleted. The audit log keeps its full content.", "success")
    if is_htmx_partial():
        return "", 200, {"HX-Redirect": url_for("superadmin.leads")}
    return redirect(url_for("superadmin.leads"))


def _refused(lead, form, message, status, second=False):
    blockers, needs_second = deletion.money_records(lead)
    ctx = {"lead": lead, "delete_form": form, "message": message, "message_status": status}
    ctx.update(blockers=blockers, money_recorded=needs_second, needs_second=second)
    ctx = {**lead_views.panel_context(lead), **ctx}
    return render(
        "superadmin/leads/detail.html", partial="superadmin/leads/partials/_delete.html", status=status, **ctx
    )


@bp.delete("/leads/<lead_id>")
def lead_delete(lead_id):
    return _delete(lead_id)


@bp.post("/leads/<lead_id>/delete")
def lead_delete_confirm(lead_id):
    return _delete(lead_id)
