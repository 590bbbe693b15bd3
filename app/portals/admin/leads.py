"""Admin leads: every lead in list and kanban views, creating leads, allocation and fee overrides.

Admins edit any lead (stage, money, override, notes, evidence) but cannot delete one.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import STAFF, roles
from app.extensions import db
from app.leads import intake, pipeline
from app.leads import queries as lead_queries
from app.loaders import get_or_404, load_lead, parse_uuid
from app.models import Category, ChannelPartner
from app.portals import lead_cards, lead_views
from app.portals.admin import bp
from app.portals.intake_forms import lead_form
from app.portals.lead_forms import AdminLeadForm, AllocateForm
from app.web import is_htmx_partial, render
from app.web.actions import run_action
from app.web.routes import add_route


def _partner_choices(blank: str | None = None):
    choices = [(str(p.id), p.company_name) for p in lead_queries.approved_partners()]
    return [("", blank), *choices] if blank else choices


def _filter_choices() -> dict:
    return {"categories": lead_queries.categories()}


bp.context_processor(lead_cards.template_helpers)

PAGES = lead_views.LeadPortal(
    list_page=("/leads", "leads", "admin/leads/page.html"),
    board=("/leads/kanban", "admin/leads/kanban.html"),
    detail_template="admin/leads/detail.html",
    page_context=_filter_choices,
    detail_context=lambda lead: {"allocate_form": _allocate_form(lead)},
    row_roles=STAFF,  # the super admin's read-only lead list expands its rows here too
)
lead_views.register(bp, PAGES)
add_route(bp, "/leads/<lead_id>/fee-override", "lead_fee_override", lead_views.override_action, methods=("POST",))


@bp.get("/leads/partners")
@roles(*STAFF)  # the super admin's lead list filters by partner too
def lead_partner_suggest():
    """Up to 10 partners whose name contains what was typed in the lead filters' partner field."""
    typed = (request.args.get("partner") or "")[:100]
    if not is_htmx_partial():
        return redirect(url_for("admin.leads"))
    partners = lead_queries.partner_matches(typed)
    return render_template("_partials/leads/_partner_options.html", partners=partners, typed=typed.strip())


def _create_form(category_id=None, formdata=None):
    """The admin's new-lead form: the chosen category's fields (app/portals/intake_forms) and the admin extras."""
    category = db.session.get(Category, parse_uuid(category_id)) if category_id else None
    form = lead_form(category, base=AdminLeadForm, formdata=formdata)
    form.category.choices = [("", "No category")] + [(str(c.id), c.name) for c in lead_queries.categories()]
    form.partner.choices = _partner_choices(blank="Leave unallocated")
    return form, category


@bp.get("/leads/new")
def lead_new():
    """Choosing a category re-renders the form with its fields (HTMX), keeping what was typed."""
    category_id = request.args.get("category")
    form, _category = _create_form(category_id, formdata=request.args if category_id else None)
    return render("admin/leads/new.html", form=form)


@bp.post("/leads/new")
def lead_create():
    form, category = _create_form(request.form.get("category"))

    def reply(outcome):
        if not outcome.ok:
            return render("admin/leads/new.html", form=outcome.form, status=outcome.status)
        flash(f"Lead “{outcome.result.title}” created.", "success")
        return redirect(url_for("admin.lead_detail", lead_id=outcome.result.id))

    return run_action(form, lambda f: _create(f, category), reply)


def _create(form, category):
    """Admin entry (SPEC 9.2): trusted and reviewed by its author, so approved at once; then money and allocation."""
    data = {**form.lead_data(), "title": form.title.data}
    lead = intake.submit(data, category, channel="admin", actor=current_user)
    pipeline.set_amounts(lead, form.lead_value.data, form.commission_amount.data, current_user, None)
    if form.partner.data:
        partner = db.session.get(ChannelPartner, parse_uuid(form.partner.data))
        pipeline.allocate(lead, partner, current_user, override=form.parsed if form.parsed[0] else None)
    elif form.parsed[0]:
        pipeline.set_fee_override(lead, *form.parsed, current_user)
    return lead


def _allocate_form(lead, formdata=None) -> AllocateForm:
    data = {
        "version": lead.version,
        "partner": str(lead.allocated_to or ""),
        "override_type": lead.fee_override_type or "",
        "override_value": lead.fee_override_value,
    }
    form = AllocateForm(prefix="allocate", data=data) if formdata is None else AllocateForm(prefix="allocate")
    form.partner.choices = _partner_choices(blank="Choose a channel partner")
    return form


@bp.post("/leads/<lead_id>/allocate")
def lead_allocate(lead_id):
    lead = load_lead(lead_id, edit=True)

    def allocate(form):
        partner = get_or_404(ChannelPartner, form.partner.data)
        override = form.parsed if form.parsed[0] else None
        pipeline.allocate(lead, partner, current_user, override=override, expected_version=form.version.data)
        return partner

    def reply(outcome):
        if outcome.ok:
            return _allocation_answer(
                lead, None, f"Allocated to {outcome.result.company_name}; they were notified.", 200
            )
        message = "Fix the allocation form." if outcome.invalid else str(outcome.error)
        return _allocation_answer(lead, outcome.form, message, outcome.status)

    return run_action(_allocate_form(lead, formdata=request.form), allocate, reply)


def _allocation_answer(lead, form, message, status):
    if status < 400 and not is_htmx_partial():
        flash(message, "success")
        return redirect(url_for("admin.lead_detail", lead_id=lead.id))
    form = form or _allocate_form(lead)
    ctx = lead_views.panel_context(lead, message=message, message_status=status, allocate_form=form)
    return render("admin/leads/detail.html", partial="admin/leads/partials/_allocate_answer.html", status=status, **ctx)
