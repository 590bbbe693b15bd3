"""Platform-fee settlement history, detail and receipt: the same pages for admins and the super admin,
declared once and added to each portal by `register`."""

from dataclasses import dataclass

from flask import request

from app.loaders import load_fee_settlement
from app.money import fee_settlement_history, receipts
from app.validators import query_page
from app.web import render
from app.web.routes import add_route

PAGE_SIZE = 25


@dataclass(frozen=True)
class SettlementPages:
    """Where a portal shows the settlements: its path, endpoint names and templates."""

    rule: str
    endpoints: tuple[str, str, str]  # history, detail, receipt
    templates: tuple[str, str]  # history, detail

    def qualified(self, index: int) -> str:
        return f"{request.blueprint}.{self.endpoints[index]}"


def history_page(pages: SettlementPages):
    pagination = fee_settlement_history.settlement_page(query_page(request.args), PAGE_SIZE)
    return render(
        pages.templates[0],
        partial="admin/platform_fees/partials/_settlements.html",
        pagination=pagination,
        detail_endpoint=pages.qualified(1),
        receipt_endpoint=pages.qualified(2),
    )


def detail_page(pages: SettlementPages, settlement_id):
    settlement = load_fee_settlement(settlement_id)
    return render(
        pages.templates[1],
        settlement=settlement,
        items=fee_settlement_history.settlement_items(settlement),
        receipt_endpoint=pages.qualified(2),
    )


def receipt_download(settlement_id):
    settlement = load_fee_settlement(settlement_id)
    number = receipts.receipt_number("FS", settlement.id)
    return receipts.as_download(receipts.fee_settlement_pdf(settlement), f"platform-fee-receipt-{number}.pdf")


def register(bp, pages: SettlementPages) -> None:
    add_route(bp, pages.rule, pages.endpoints[0], lambda: history_page(pages))
    add_route(
        bp,
        f"{pages.rule}/<settlement_id>",
        pages.endpoints[1],
        lambda settlement_id: detail_page(pages, settlement_id),
    )
    add_route(bp, f"{pages.rule}/<settlement_id>/receipt.pdf", pages.endpoints[2], receipt_download)
