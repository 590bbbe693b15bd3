"""/api/v1/analytics: the super admin's figures (SPEC 4, read-only), from the same queries as /super/ (the income
dashboard: platform fees generated, settled and outstanding, month by month) and /super/analytics (lead volume,
win rate, revenue per week or month, category performance, top partners over a date range)."""

import marshmallow as ma
from flask_smorest import Blueprint

from app.access import SUPER, roles
from app.api.fees import FeeFigures
from app.api.fields import Money
from app.api.principal import scope
from app.money import fee_queries
from app.reporting import analytics

blp = Blueprint("api_analytics", __name__, url_prefix="/analytics", description="Analytics (super admin)")

MAX_MONTHS = 36


class IncomeArgs(ma.Schema):
    months = ma.fields.Integer(
        load_default=12, validate=ma.validate.Range(1, MAX_MONTHS), metadata={"description": "How many months back"}
    )


class MonthOut(ma.Schema):
    month = ma.fields.String(required=True, metadata={"description": "YYYY-MM", "pattern": r"^\d{4}-\d{2}$"})
    generated = Money(required=True, metadata={"description": "Fees of the leads won that month"})
    settled = Money(required=True, metadata={"description": "Fees settled to you that month"})


class IncomeOut(FeeFigures):
    months = ma.fields.List(ma.fields.Nested(MonthOut), required=True, metadata={"description": "Oldest first"})


class RangeArgs(ma.Schema):
    date_from = ma.fields.Date(metadata={"description": "Default: the start of the month eleven months back"})
    date_to = ma.fields.Date(metadata={"description": "Default: today"})
    group = ma.fields.String(
        load_default="month",
        validate=ma.validate.OneOf(analytics.GROUPINGS),
        metadata={"description": "Periods of a week (Monday first) or a month; weeks past two years become months"},
    )


class PeriodOut(ma.Schema):
    start = ma.fields.Date(required=True, metadata={"description": "The period's first day"})
    label = ma.fields.String(required=True)
    leads_created = ma.fields.Integer(attribute="created_leads", required=True)
    leads_won = ma.fields.Integer(attribute="transactions", required=True)
    closed_won = ma.fields.Integer(required=True, metadata={"description": "Leads moved to Won in the period"})
    closed_lost = ma.fields.Integer(required=True, metadata={"description": "Leads moved to Lost in the period"})
    win_rate = ma.fields.Float(allow_none=True, metadata={"description": "closed_won ÷ closed, percent"})
    gross_commission = Money(required=True)
    platform_fee = Money(required=True)
    net_commission = Money(required=True)


class CategoryFiguresOut(ma.Schema):
    category_id = ma.fields.UUID(allow_none=True, metadata={"description": "None: uncategorised"})
    name = ma.fields.String(attribute="category_name", allow_none=True)
    leads = ma.fields.Integer(attribute="rows", required=True)
    won_leads = ma.fields.Integer(required=True)
    lost_leads = ma.fields.Integer(required=True)
    won_value = Money(required=True)
    win_rate = ma.fields.Float(allow_none=True)


class PartnerFiguresOut(ma.Schema):
    partner_id = ma.fields.UUID(attribute="cp_id", required=True)
    name = ma.fields.String(attribute="cp_name", allow_none=True)
    won_value = Money(required=True)
    won_leads = ma.fields.Integer(required=True)
    lost_leads = ma.fields.Integer(required=True)
    win_rate = ma.fields.Float(allow_none=True)


class AnalyticsOut(ma.Schema):
    date_from = ma.fields.Date(required=True)
    date_to = ma.fields.Date(required=True)
    group = ma.fields.String(required=True, metadata={"enum": list(analytics.GROUPINGS)})
    periods = ma.fields.List(ma.fields.Nested(PeriodOut), required=True)
    categories = ma.fields.List(
        ma.fields.Nested(CategoryFiguresOut), required=True, metadata={"description": "Busiest first"}
    )
    top_partners = ma.fields.List(
        ma.fields.Nested(PartnerFiguresOut), required=True, metadata={"description": "By won value, the ten highest"}
    )


def _with_rate(row: dict, won: str, lost: str) -> dict:
    return {**row, "win_rate": analytics.win_rate_percent(row[won], row[lost])}


@blp.route("/income", methods=["GET"])
@roles(SUPER)
@scope("analytics:read")
@blp.arguments(IncomeArgs, location="query")
@blp.response(200, IncomeOut)
def income(args):
    """Platform-fee income: generated, settled to you, outstanding and overdue, and month by month"""
    totals = fee_queries.totals()
    return {**vars(totals), "months": fee_queries.monthly(args["months"])}


@blp.route("", methods=["GET"])
@roles(SUPER)
@scope("analytics:read")
@blp.arguments(RangeArgs, location="query")
@blp.response(200, AnalyticsOut)
def figures(args):
    """Lead volume, win rate and revenue per period, category performance and top partners over a date range"""
    raw = {name: args[name].isoformat() for name in ("date_from", "date_to") if args.get(name)}
    rng = analytics.range_from_args({**raw, "group": args["group"]})
    figs = analytics.figures(rng)
    return {
        "date_from": rng.date_from,
        "date_to": rng.date_to,
        "group": rng.grouping,
        "periods": [_with_rate(row, "closed_won", "closed_lost") for row in analytics.period_rows(rng, figs)],
        "categories": [_with_rate(row, "won_leads", "lost_leads") for row in analytics.category_rows(rng, figs)],
        "top_partners": [_with_rate(row, "won_leads", "lost_leads") for row in analytics.top_partner_rows(rng, figs)],
    }
