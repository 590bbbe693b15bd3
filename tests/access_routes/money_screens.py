"""Permission rows for the batch settlement of platform fees: the running summary and the confirmation step."""

from tests.access_table import admin_only

ROUTES = {
    "GET admin.platform_fees_selection": ("/admin/platform-fees/selection", admin_only()),
    "GET admin.platform_fees_review": ("/admin/platform-fees/settle/review", admin_only()),
}
