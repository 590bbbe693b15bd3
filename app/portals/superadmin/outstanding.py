"""Platform fees not yet settled to the super admin, one row per lead, oldest first, overdue flagged (read-only)."""

from flask import current_app, request

from app.money import fee_settlements
from app.portals.superadmin import bp
from app.validators import query_page
from app.web import render

PAGE_SIZE = 25


@bp.get("/outstanding")
def outstanding():
    fee_filter = fee_settlements.parse_filter(request.args)
    totals = fee_settlements.totals(cp_id=fee_filter.cp_id)
    pagination = fee_settlements.fee_page(
        fee_filter, query_page(request.args), PAGE_SIZE, oldest_first=True, totals=totals
    )
    return render(
        "superadmin/outstanding/page.html",
        partial="superadmin/outstanding/partials/_table.html",
        pagination=pagination,
        fee_filter=fee_filter,
        partners=fee_settlements.partners_with_fees(),
        totals=totals,
        is_overdue=fee_settlements.overdue_test(),
        overdue_days=current_app.config["FEE_OVERDUE_DAYS"],
    )
