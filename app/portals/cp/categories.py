"""The customer view: a full-page showcase of categories and approved partner content; submit a lead."""

from flask import flash, redirect, url_for
from flask_login import current_user

from app.access import WORKERS, members
from app.catalog import operations as catalog
from app.leads import intake
from app.loaders import load_category
from app.portals.cp import bp
from app.portals.intake_forms import lead_form
from app.web import is_htmx_partial, render
from app.web.actions import run_action


@bp.get("/categories")
def categories():
    return render(
        "cp/categories/page.html",
        categories=catalog.categories(active_only=True),
        published=catalog.published_content(),
    )


def _lead_form(category, form, status=200, error=None):
    return render(
        "cp/categories/lead.html",
        partial="cp/categories/partials/_lead_form.html",
        category=category,
        form=form,
        status=status,
        error=error,
    )


@bp.get("/categories/<category_id>/lead")
@members(*WORKERS)  # the form of something a viewer cannot do
def category_lead(category_id):
    category = load_category(category_id, active_only=True)
    return _lead_form(category, lead_form(category))


@bp.post("/categories/<category_id>/lead")
def category_lead_submit(category_id):
    category = load_category(category_id, active_only=True)

    def reply(outcome):
        if not outcome.ok:
            error = str(outcome.error) if outcome.error else None
            return _lead_form(category, outcome.form, outcome.status, error=error)
        lead = outcome.result
        if is_htmx_partial():
            return render(
                "cp/categories/lead.html",
                partial="cp/categories/partials/_lead_done.html",
                category=category,
                lead=lead,
            )
        flash(f"Lead “{lead.title}” submitted (score {lead.quality_score}). An admin will review it.", "success")
        return redirect(url_for("cp.leads_originated"))

    def submit(form):
        partner = current_user.partner
        return intake.submit(form.lead_data(), category, channel="portal", actor=current_user, partner=partner)

    return run_action(lead_form(category), submit, reply)
