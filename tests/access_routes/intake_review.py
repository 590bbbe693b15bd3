"""Permission rows for intake review, lead credits, intake settings and category field schemas (issue 18).

{review_lead} waits for review (cp originated it); {credit} is cp's pending credit; {category_field} and
{spare_field} are fields of {category} (the spare one is the one the delete row removes).
An empty POST is a validation answer (422), except approving (nothing to fill in) and deleting.
"""

from tests.access_table import admin_only, cp_only

ROUTES = {
    # --- review --------------------------------------------------------------------------------
    "GET admin.review_queue_page": ("/admin/review", admin_only()),
    "POST admin.lead_approve": ("/admin/leads/{review_lead}/approve", admin_only(303)),
    "POST admin.lead_reject": ("/admin/leads/{review_lead}/reject", admin_only(422)),
    "POST admin.lead_mark_bad": ("/admin/leads/{lead}/mark-bad", admin_only(422)),
    # --- credits -------------------------------------------------------------------------------
    "GET admin.credits": ("/admin/credits", admin_only()),
    "POST admin.credit_decide": ("/admin/credits/{credit}/decide", admin_only(422)),
    "GET cp.credits": ("/cp/credits", cp_only()),
    # --- intake settings -----------------------------------------------------------------------
    "GET admin.intake_settings": ("/admin/intake", admin_only()),
    "POST admin.intake_settings_save": ("/admin/intake", admin_only(422)),
    # --- a category's field schema -------------------------------------------------------------
    "GET admin.category_fields": ("/admin/categories/{category}/fields", admin_only()),
    "GET admin.category_fields_preview": ("/admin/categories/{category}/fields/preview?new-label=Roof", admin_only()),
    "POST admin.category_field_add": ("/admin/categories/{category}/fields", admin_only(422)),
    "GET admin.category_field_edit": ("/admin/categories/{category}/fields/{category_field}/edit", admin_only()),
    "POST admin.category_field_update": ("/admin/categories/{category}/fields/{category_field}", admin_only(422)),
    "POST admin.category_field_delete": ("/admin/categories/{category}/fields/{spare_field}/delete", admin_only(303)),
    "POST admin.category_field_move": ("/admin/categories/{category}/fields/{category_field}/move", admin_only(422)),
}
