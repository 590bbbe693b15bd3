"""Platform-fee settlement history, detail and receipt: the same pages for admins and the super admin."""

from flask import request

from app.loaders import load_fee_settlement
from app.money import fee_settlement_history, receipts
from app.validators import query_page
from app.web import render

PAGE_SIZE = 25
ENDPOINTS = {  # portal -> (settlement detail, receipt)
    "admin": ("admin.platform_fees_settlement", "admin.platform_fees_receipt"),
    "superadmin": ("superadmin.settlements_detail", "superadmin.settlements_receipt"),
}


def history_page(template: str, portal: str):
    pagination = fee_settlement_history.settlement_page(query_page(request.args), PAGE_SIZE)
    return render(
        template,
        partial="admin/platform_fees/partials/_settlements.html",
        pagination=pagination,
        detail_endpoint=ENDPOINTS[portal][0],
        receipt_endpoint=ENDPOINTS[portal][1],
    )


def detail_page(settlement_id, template: str, portal: str):
    settlement = load_fee_settlement(settlement_id)
    return render(
        template,
        settlement=settlement,
        items=fee_settlement_history.settlement_items(settlement),
        receipt_endpoint=ENDPOINTS[portal][1],
    )


def receipt_download(settlement_id):
    settlement = load_fee_settlement(settlement_id)
    number = receipts.receipt_number("FS", settlement.id)
    return receipts.as_download(receipts.fee_settlement_pdf(settlement), f"platform-fee-receipt-{number}.pdf")
