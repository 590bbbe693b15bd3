"""Every platform-fee settlement the admins made to the super admin, with slips and PDF receipts (read-only)."""

from flask import request

from app.extensions import db
from app.loaders import load_fee_settlement
from app.portals.superadmin import bp
from app.services import fee_settlements, receipts
from app.web import render

PAGE_SIZE = 25


@bp.get("/settlements")
def settlements():
    pagination = db.paginate(
        fee_settlements.settlements_query(),
        page=request.args.get("page", 1, type=int),
        per_page=PAGE_SIZE,
        error_out=False,
    )
    return render(
        "superadmin/settlements/page.html",
        partial="admin/platform_fees/partials/_settlements.html",
        pagination=pagination,
        detail_endpoint="superadmin.settlements_detail",
        receipt_endpoint="superadmin.settlements_receipt",
    )


@bp.get("/settlements/<settlement_id>")
def settlements_detail(settlement_id):
    settlement = load_fee_settlement(settlement_id)
    return render(
        "superadmin/settlements/detail.html",
        settlement=settlement,
        items=fee_settlements.settlement_items(settlement),
        receipt_endpoint="superadmin.settlements_receipt",
    )


@bp.get("/settlements/<settlement_id>/receipt.pdf")
def settlements_receipt(settlement_id):
    settlement = load_fee_settlement(settlement_id)
    number = receipts.receipt_number("FS", settlement.id)
    return receipts.as_download(receipts.fee_settlement_pdf(settlement), f"platform-fee-receipt-{number}.pdf")
