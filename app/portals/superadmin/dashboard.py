"""The super admin's income dashboard (/super/): generated, settled to you, outstanding, by month and per lead.

Read-only: settlements are made by admins at /admin/platform-fees.
"""

from datetime import datetime

from flask import current_app, request

from app.money import fee_filters, fee_queries
from app.portals.superadmin import bp
from app.reporting import charts
from app.validators import query_page
from app.web import is_htmx_partial, render

PAGE_SIZE = 25
MONTHS = 12


def income_chart(months: list[dict]) -> charts.Chart:
    labels = [datetime.strptime(m["month"], "%Y-%m").strftime("%b %Y") for m in months]
    return charts.Chart(
        key="income-by-month",
        title="Platform fee income by month",
        description="Platform fees generated (by the month the lead was won) and settled to you "
        "(by the month of the settlement), for the last twelve months.",
        kind="bar",
        labels=labels,
        series=[
            charts.Series("Generated", [m["generated"] for m in months], charts.BLUE),
            charts.Series("Settled to you", [m["settled"] for m in months], charts.GREEN),
        ],
        x_label="Month",
        y_label="Platform fee",
        value_format="money",
        currency=current_app.config["CURRENCY_SYMBOL"],
    )


@bp.get("/")
def dashboard():
    totals = fee_queries.totals()
    page = query_page(request.args)
    pagination = fee_queries.fee_page(fee_filters.FeeFilter(), page, PAGE_SIZE, totals=totals)
    return render(
        "superadmin/dashboard/page.html",
        partial="superadmin/dashboard/partials/_breakdown.html",
        totals=totals,
        chart=None if is_htmx_partial() else income_chart(fee_queries.monthly(MONTHS)),  # the pager: table only
        pagination=pagination,
        is_overdue=fee_queries.overdue_test(),
    )
