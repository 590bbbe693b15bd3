"""The super admin's income dashboard (/super/): generated, settled to you, outstanding, by month and per lead.

Read-only: settlements are made by admins at /admin/platform-fees.
"""

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, request

from app.extensions import db
from app.models import ChannelPartner, CommissionTransaction, Lead, PlatformFeeSettlement, PlatformFeeSettlementItem
from app.portals.superadmin import bp
from app.services import charts, fee_settlements
from app.services.reports import Page
from app.web import is_htmx_partial, render

CT, ITEM, SETTLEMENT = CommissionTransaction, PlatformFeeSettlementItem, PlatformFeeSettlement
PAGE_SIZE = 25
MONTHS = 12


def breakdown_page(page: int, total: int) -> Page:
    """One page of "platform fee per lead" (every fee, newest win first, as fee_settlements.fees_query lists
    them) as plain rows of the columns the table shows. `total` is the number of fees (from the totals).

    The lead, partner and settlement come from scalar subqueries rather than joins: the planner then has
    one table to order instead of five (planning was most of this statement's time)."""
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page or 1, 1), pages)
    settled = sa.select(ITEM.settlement_id, SETTLEMENT.settled_at).join(SETTLEMENT).where(ITEM.transaction_id == CT.id)
    stmt = (
        sa.select(
            CT.won_at,
            CT.status,
            CT.fee_settled_at,
            CT.lead_value,
            CT.gross_commission,
            CT.fee_rule_type,
            CT.fee_rule_value,
            CT.fee_rule_source,
            CT.fee_capped,
            CT.platform_fee,
            sa.select(Lead.title).where(Lead.id == CT.lead_id).scalar_subquery().label("lead_title"),
            sa.select(ChannelPartner.company_name)
            .where(ChannelPartner.id == CT.cp_id)
            .scalar_subquery()
            .label("cp_name"),
            settled.with_only_columns(ITEM.settlement_id).scalar_subquery().label("settlement_id"),
            settled.with_only_columns(SETTLEMENT.settled_at).scalar_subquery().label("settled_at"),
        )
        .where(CT.status != "void")
        .order_by(CT.won_at.desc(), CT.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return Page(items=db.session.execute(stmt).all(), page=page, per_page=PAGE_SIZE, total=total)


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
    totals = fee_settlements.totals()
    pagination = breakdown_page(request.args.get("page", 1, type=int), totals.generated_count)
    return render(
        "superadmin/dashboard/page.html",
        partial="superadmin/dashboard/partials/_breakdown.html",
        totals=totals,
        chart=None if is_htmx_partial() else income_chart(fee_settlements.monthly(MONTHS)),  # the pager: table only
        pagination=pagination,
        is_overdue=fee_settlements.is_overdue,
    )
