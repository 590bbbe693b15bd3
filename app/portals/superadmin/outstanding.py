"""Platform fees not yet settled to the super admin, one row per lead, oldest first, overdue flagged (read-only)."""

from flask import current_app, request

from app.money import fee_filters, fee_queries
from app.portals.superadmin import bp
from app.validators import query_page
from app.web import render

PAGE_SIZE = 25


@bp.get("/outstanding")
def outstanding():
    fee_filter = fee_filters.parse_filter(request.args)
    totals = fee_queries.totals(cp_id=fee_filter.cp_id)
    pagination = fee_queries.fee_page(fee_filter, query_page(request.args), PAGE_SIZE, oldest_first=True, totals=totals)
    return render(
        "superadmin/outstanding/page.html",
        partial="superadmin/outstanding/partials/_table.html",
        pagination=pagination,
        fee_filter=fee_filter,
        partners=fee_queries.partners_with_fees(),
        totals=totals,
        is_overdue=fee_queries.overdue_test(),
        overdue_days=current_app.config["FEE_OVERDUE_DAYS"],
    )
