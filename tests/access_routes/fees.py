"""Permission rows for platform fees: the admin's rule and settlements, the super admin's income pages."""

from tests.access_table import admin_only, super_only

ROUTES = {
    "GET admin.platform_fees": ("/admin/platform-fees", admin_only()),
    "POST admin.platform_fees_rule": ("/admin/platform-fees/rule", admin_only(422)),
    "POST admin.platform_fees_settle": ("/admin/platform-fees/settle", admin_only(422)),
    "GET admin.platform_fees_settlements": ("/admin/platform-fees/settlements", admin_only()),
    "GET admin.platform_fees_settlement": ("/admin/platform-fees/settlements/{fee_settlement}", admin_only()),
    "GET admin.platform_fees_receipt": (
        "/admin/platform-fees/settlements/{fee_settlement}/receipt.pdf",
        admin_only(),
    ),
    "GET superadmin.settlements": ("/super/settlements", super_only()),
    "GET superadmin.settlements_detail": ("/super/settlements/{fee_settlement}", super_only()),
    "GET superadmin.settlements_receipt": ("/super/settlements/{fee_settlement}/receipt.pdf", super_only()),
    "GET superadmin.outstanding": ("/super/outstanding", super_only()),
}
