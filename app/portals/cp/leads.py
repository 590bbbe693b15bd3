"""The CP's assigned leads: list and kanban views, the lead panel, and the actions on an assigned lead.

A CP edits only the leads assigned to it; a lead it only originated is read-only (load_lead with
edit=True refuses it), and any other partner's lead is 404 for every verb.
"""

from flask_login import current_user

from app.portals import lead_cards, lead_views
from app.portals.cp import bp

bp.context_processor(lead_cards.template_helpers)


@bp.get("/leads/assigned")
def leads_assigned():
    return lead_views.list_page("cp/leads/assigned.html", assigned_to=current_user.partner.id)


@bp.get("/leads/assigned/kanban")
def leads_kanban():
    return lead_views.kanban_page("cp/leads/kanban.html")


@bp.post("/leads/assigned/kanban/<stage>")
def leads_kanban_move(stage):
    return lead_views.kanban_move(stage)


@bp.get("/leads/assigned/kanban/<stage>/more")
def leads_kanban_column(stage):
    return lead_views.kanban_column(stage)


@bp.get("/leads/<lead_id>/row")
def lead_row_details(lead_id):
    return lead_views.row_details(lead_id)


@bp.get("/leads/<lead_id>")
def lead_detail(lead_id):
    return lead_views.detail_page(lead_id, "cp/leads/detail.html")


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
