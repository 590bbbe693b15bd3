"""Admin leads: every lead in list and kanban views, creating leads, allocation and fee overrides.

Admins edit any lead (stage, money, override, notes, evidence) but cannot delete one.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import STAFF, roles
from app.extensions import db
from app.leads import pipeline
from app.leads import queries as lead_queries
from app.loaders import get_or_404, load_lead
from app.models import ChannelPartner
from app.portals import lead_cards, lead_views
from app.portals.admin import bp
from app.portals.lead_forms import AllocateForm, LeadCreateForm
from app.web import render

CONTACT_FIELDS = ("contact_name", "contact_company", "contact_email", "contact_phone")


def _partner_choices(blank: str | None = None):
    choices = [(str(p.id), p.company_name) for p in lead_queries.approved_partners()]
    return [("", blank), *choices] if blank else choices


def _filter_choices() -> dict:
    return {"categories": lead_queries.categories()}


bp.context_processor(lead_cards.template_helpers)


@bp.get("/leads")
def leads():
    return lead_views.list_page("admin/leads/page.html", **_filter_choices())


@bp.get("/leads/kanban")
def leads_kanban():
    return lead_views.kanban_page("admin/leads/kanban.html", **_filter_choices())


@bp.post("/leads/kanban/<stage>")
def leads_kanban_move(stage):
    return lead_views.kanban_move(stage)


@bp.get("/leads/partners")
@roles(*STAFF)  # the super admin's lead list filters by partner too
def lead_partner_suggest():
    """Up to 10 partners whose name contains what was typed in the lead filters' partner field."""
    typed = (request.args.get("partner") or "")[:100]
    if not lead_views.is_htmx_partial():
        return redirect(url_for("admin.leads"))
    partners = lead_queries.partner_matches(typed)
    return render_template("_partials/leads/_partner_options.html", partners=partners, typed=typed.strip())


@bp.get("/leads/kanban/<stage>/more")
def leads_kanban_column(stage):
    return lead_views.kanban_column(stage)


@bp.get("/leads/<lead_id>/row")
@roles(*STAFF)  # the super admin's read-only lead list expands its rows here too
def lead_row_details(lead_id):
    return lead_views.row_details(lead_id)


def _create_form() -> LeadCreateForm:
    form = LeadCreateForm()
    form.category.choices = [("", "No category")] + [(str(c.id), c.name) for c in lead_queries.categories()]
    form.partner.choices = _partner_choices(blank="Leave unallocated")
    return form


@bp.get("/leads/new")
def lead_new():
    return render("admin/leads/new.html", form=_create_form())


@bp.post("/leads/new")
def lead_create():
    form = _create_form()
    if form.validate_on_submit():
        try:
            lead = _create(form)
        except pipeline.PipelineError as exc:
            lead_views._rollback_with_error(form, exc)
        else:
            db.session.commit()
            flash(f"Lead “{lead.title}” created.", "success")
            return redirect(url_for("admin.lead_detail", lead_id=lead.id))
    return render("admin/leads/new.html", form=form, status=422)


def _create(form):
    contact = {name: (form[name].data or "").strip() or None for name in CONTACT_FIELDS}
    lead = pipeline.create_lead(
        current_user,
        title=form.title.data,
        description=form.description.data,
        category_id=form.category.data or None,
        contact=contact,
    )
    pipeline.set_amounts(lead, form.lead_value.data, form.commission_amount.data, current_user, None)
    if form.partner.data:
        partner = db.session.get(ChannelPartner, lead_views.parse_uuid(form.partner.data))
        pipeline.allocate(lead, partner, current_user, override=form.parsed if form.parsed[0] else None)
    elif form.parsed[0]:
        pipeline.set_fee_override(lead, *form.parsed, current_user)
    return lead


@bp.get("/leads/<lead_id>")
def lead_detail(lead_id):
    return lead_views.detail_page(lead_id, "admin/leads/detail.html", allocate_form=_allocate_form(load_lead(lead_id)))


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
    form = _allocate_form(lead, formdata=request.form)
    if form.validate():
        partner = get_or_404(ChannelPartner, form.partner.data)
        override = form.parsed if form.parsed[0] else None
        try:
            pipeline.allocate(lead, partner, current_user, override=override, expected_version=form.version.data)
        except pipeline.PipelineError as exc:
            lead_views._rollback_with_error(form, exc)
            return _allocation_answer(lead, form, str(exc), exc.status)
        db.session.commit()
        return _allocation_answer(lead, None, f"Allocated to {partner.company_name}; they were notified.", 200)
    return _allocation_answer(lead, form, "Fix the allocation form.", 422)


def _allocation_answer(lead, form, message, status):
    if status < 400 and not lead_views.is_htmx_partial():
        flash(message, "success")
        return redirect(url_for("admin.lead_detail", lead_id=lead.id))
    form = form or _allocate_form(lead)
    ctx = lead_views.panel_context(lead, message=message, message_status=status, allocate_form=form)
    return render("admin/leads/detail.html", partial="admin/leads/partials/_allocate_answer.html", status=status, **ctx)


@bp.post("/leads/<lead_id>/fee-override")
def lead_fee_override(lead_id):
    return lead_views.override_action(lead_id)


@bp.get("/leads/<lead_id>/fee-preview")
def lead_fee_preview(lead_id):
    return lead_views.fee_preview(lead_id)


@bp.post("/leads/<lead_id>/stage")
def lead_stage(lead_id):
    return lead_views.stage_action(lead_id)


@bp.post("/leads/<lead_id>/amounts")
def lead_amounts(lead_id):
    return lead_views.amounts_action(lead_id)


@bp.post("/leads/<lead_id>/notes")
def lead_note_add(lead_id):
    return lead_views.note_action(lead_id)


@bp.post("/leads/<lead_id>/evidence")
def lead_evidence_add(lead_id):
    return lead_views.evidence_action(lead_id)
