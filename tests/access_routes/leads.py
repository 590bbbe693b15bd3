"""Lead routes: CP assigned list/kanban/panel/actions, admin leads, super admin leads and deletion.

On "lead" (assigned to cp) the other CP gets 404 for every verb; an empty POST is a validation answer (422).
"""

from tests.access_table import admin_only, cp_only, expect, staff, super_only

ROUTES = {
    # --- channel partner ------------------------------------------------------------------------
    "GET cp.leads_assigned": ("/cp/leads/assigned", cp_only()),
    "GET cp.leads_kanban": ("/cp/leads/assigned/kanban", cp_only()),
    "POST cp.leads_kanban_move": ("/cp/leads/assigned/kanban/contacted", cp_only(422)),
    # opened without HTMX, "Show more" and a row's details send the user to the page they belong to
    "GET cp.leads_kanban_column": ("/cp/leads/assigned/kanban/new/more", cp_only(302, other=302)),
    "GET cp.lead_row_details": ("/cp/leads/{lead}/row", cp_only(302, other=404)),
    "GET cp.lead_detail": ("/cp/leads/{lead}", cp_only(200, other=404)),
    "GET cp.lead_fee_preview": ("/cp/leads/{lead}/fee-preview", cp_only(200, other=404)),
    "POST cp.lead_stage": ("/cp/leads/{lead}/stage", cp_only(422, other=404)),
    "POST cp.lead_amounts": ("/cp/leads/{lead}/amounts", cp_only(422, other=404)),
    "POST cp.lead_note_add": ("/cp/leads/{lead}/notes", cp_only(422, other=404)),
    "POST cp.lead_evidence_add": ("/cp/leads/{lead}/evidence", cp_only(422, other=404)),
    # --- admin ----------------------------------------------------------------------------------
    "GET admin.leads": ("/admin/leads", admin_only()),
    "GET admin.leads_kanban": ("/admin/leads/kanban", admin_only()),
    "POST admin.leads_kanban_move": ("/admin/leads/kanban/contacted", admin_only(422)),
    "GET admin.leads_kanban_column": ("/admin/leads/kanban/new/more", admin_only(302)),
    "GET admin.lead_row_details": ("/admin/leads/{lead}/row", staff(302)),
    "GET admin.lead_partner_suggest": ("/admin/leads/partners?partner=a", staff(302)),
    "GET admin.lead_new": ("/admin/leads/new", admin_only()),
    "POST admin.lead_create": ("/admin/leads/new", admin_only(422)),
    "GET admin.lead_detail": ("/admin/leads/{lead}", admin_only()),
    "POST admin.lead_allocate": ("/admin/leads/{unallocated_lead}/allocate", admin_only(422)),
    "POST admin.lead_fee_override": ("/admin/leads/{lead}/fee-override", admin_only(422)),
    "GET admin.lead_fee_preview": ("/admin/leads/{lead}/fee-preview", admin_only()),
    "POST admin.lead_stage": ("/admin/leads/{lead}/stage", admin_only(422)),
    "POST admin.lead_amounts": ("/admin/leads/{lead}/amounts", admin_only(422)),
    "POST admin.lead_note_add": ("/admin/leads/{lead}/notes", admin_only(422)),
    "POST admin.lead_evidence_add": ("/admin/leads/{lead}/evidence", admin_only(422)),
    # --- super admin: read-only leads, and the only role that deletes ---------------------------
    "GET superadmin.leads": ("/super/leads", super_only()),
    "GET superadmin.lead_detail": ("/super/leads/{lead}", super_only()),
    "DELETE superadmin.lead_delete": ("/super/leads/{lead}", expect(anon=302, pending=302, super=422)),
    "POST superadmin.lead_delete_confirm": ("/super/leads/{lead}/delete", super_only(422)),
}
