"""Every platform-fee settlement the admins made to the super admin, with slips and PDF receipts (read-only)."""

from app.portals import fee_settlement_views
from app.portals.superadmin import bp

SETTLEMENTS = fee_settlement_views.SettlementPages(
    "/settlements",
    endpoints=("settlements", "settlements_detail", "settlements_receipt"),
    templates=("superadmin/settlements/page.html", "superadmin/settlements/detail.html"),
)
fee_settlement_views.register(bp, SETTLEMENTS)
