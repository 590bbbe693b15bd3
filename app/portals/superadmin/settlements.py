"""Every platform-fee settlement the admins made to the super admin, with slips and PDF receipts (read-only)."""

from app.portals import fee_settlement_views
from app.portals.superadmin import bp


@bp.get("/settlements")
def settlements():
    return fee_settlement_views.history_page("superadmin/settlements/page.html", "superadmin")


@bp.get("/settlements/<settlement_id>")
def settlements_detail(settlement_id):
    return fee_settlement_views.detail_page(settlement_id, "superadmin/settlements/detail.html", "superadmin")


@bp.get("/settlements/<settlement_id>/receipt.pdf")
def settlements_receipt(settlement_id):
    return fee_settlement_views.receipt_download(settlement_id)
