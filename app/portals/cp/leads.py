"""The CP's assigned leads: list and kanban views, the lead panel, and the actions on an assigned lead.

A CP edits only the leads assigned to it; a lead it only originated is read-only (load_lead with
edit=True refuses it), and any other partner's lead is 404 for every verb.
"""

from app.portals import lead_cards, lead_views
from app.portals.cp import bp

bp.context_processor(lead_cards.template_helpers)

PAGES = lead_views.LeadPortal(
    list_page=("/leads/assigned", "leads_assigned", "cp/leads/assigned.html"),
    board=("/leads/assigned/kanban", "cp/leads/kanban.html"),
    detail_template="cp/leads/detail.html",
)
lead_views.register(bp, PAGES)
