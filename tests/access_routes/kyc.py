"""Permission rows for the admin's KYC review and partner settings (issue 17 items 2 and 3)."""

from tests.access_table import admin_only

ROUTES = {
    # An empty form: no verdict, no tier → 422 for the admin; everyone else is refused before the view.
    "POST admin.partner_kyc_review": ("/admin/partners/{partner}/kyc", admin_only(422)),
    "POST admin.partner_settings": ("/admin/partners/{partner}/settings", admin_only(422)),
}
