"""THE one query path for money and pipeline figures: report rows and their totals (the dashboards: dashboards.py).

`report_select(filters)` is one SELECT with one row per lead (a lead has at most one commission
transaction). Everything else — the report table, its totals, the CSV and PDF exports, the CP and
admin dashboard figures and the analytics series — is computed from that select (as a subquery),
so a figure on a dashboard always equals the same figure computed from the report rows.

Row meaning:
- `cp_id` is the partner the commission belongs to: the transaction's CP while it is not void,
  else the CP the lead is allocated to (None for a lead nobody is allocated yet).
- `report_date` is the won date for a lead with a commission transaction, else the date the lead
  was created; the date range filters on it (inclusive, whole days).
- Money columns come from the commission transaction; a void transaction keeps its row (status
  `void`) but is excluded from every money total (SPEC 2.9).
"""

import math
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Category,
    ChannelPartner,
    CommissionTransaction,
    Lead,
    PlatformFeeSettlement,
    PlatformFeeSettlementItem,
)
from app.models.finance import TX_STATUSES
from app.models.leads import STAGE_LABELS, STAGES
from app.validators import query_date, query_uuid

LIVE_STATUSES = ("pending", "due", "paid")  # every status but void counts in money totals
OPEN_STAGES = ("new", "contacted", "qualified", "proposal", "negotiation")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ReportFilters:
    """What the report is narrowed to. Every field is optional; `commission_only` keeps rows with a live transaction."""

    date_from: date | None = None
    date_to: date | None = None
    cp_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    stage: str | None = None
    tx_status: str | None = None
    commission_only: bool = False

    def describe(self, cp_name: str | None = None, category_name: str | None = None) -> list[tuple[str, str]]:
        """(label, value) pairs of the filters applied, for the page and the PDF heading."""
        parts = [
            ("From", self.date_from.isoformat() if self.date_from else "the beginning"),
            ("To", self.date_to.isoformat() if self.date_to else "today"),
        ]
        if self.cp_id:
            parts.append(("Channel partner", cp_name or str(self.cp_id)))
        if self.category_id:
            parts.append(("Category", category_name or str(self.category_id)))
        if self.stage:
            parts.append(("Lead status", self.stage.capitalize()))
        if self.tx_status:
            parts.append(("Transaction status", self.tx_status.capitalize()))
        return parts


def filters_from_args(args) -> ReportFilters:
    """Read filters from a query string; anything unreadable is ignored rather than an error."""
    stage = args.get("stage") or None
    tx_status = args.get("tx_status") or None
    date_from, date_to = query_date(args.get("date_from")), query_date(args.get("date_to"))
    if date_from and date_to and date_from > date_to:
        date_from, date_to = date_to, date_from
    return ReportFilters(
        date_from=date_from,
        date_to=date_to,
        cp_id=query_uuid(args.get("cp")),
        category_id=query_uuid(args.get("category")),
        stage=stage if stage in STAGES else None,
        tx_status=tx_status if tx_status in TX_STATUSES else None,
    )


def filters_to_params(filters: ReportFilters) -> dict:
    """The query-string (and job-params) form of the filters; `filters_from_args` reads it back."""
    params = {
        "date_from": filters.date_from.isoformat() if filters.date_from else "",
        "date_to": filters.date_to.isoformat() if filters.date_to else "",
        "cp": str(filters.cp_id) if filters.cp_id else "",
        "category": str(filters.category_id) if filters.category_id else "",
        "stage": filters.stage or "",
        "tx_status": filters.tx_status or "",
    }
    return {k: v for k, v in params.items() if v}


# --- the select ---------------------------------------------------------------------------------


def _columns():
    tx = CommissionTransaction
    live_cp = sa.case((tx.status != "void", tx.cp_id), else_=None)
    cp_id = sa.func.coalesce(live_cp, Lead.allocated_to)
    return {
        "lead_id": Lead.id,
        "lead_title": Lead.title,
        "cp_id": cp_id,
        "stage": Lead.kanban_stage,
        "allocation_status": Lead.allocation_status,
        "lead_created_at": Lead.created_at,
        "stage_changed_at": Lead.stage_changed_at,
        "won_at": tx.won_at,
        "report_date": sa.func.coalesce(tx.won_at, Lead.created_at),
        "lead_value": Lead.lead_value,
        "gross_commission": tx.gross_commission,
        "platform_fee": tx.platform_fee,
        "net_commission": tx.net_commission,
        "tx_id": tx.id,
        "tx_status": tx.status,
        "client_paid_at": tx.client_paid_at,
        "settlement_requested_at": tx.settlement_requested_at,
        "settled_at": tx.settled_at,
        "fee_settled": sa.case(
            (CommissionTransaction.id.is_(None), None), else_=PlatformFeeSettlementItem.id.is_not(None)
        ),
        "fee_settled_at": PlatformFeeSettlement.settled_at,
    }


def report_select(filters: ReportFilters | None = None) -> sa.Select:
    """One row per lead with its commission flow, filtered; ordered newest first. Stream it or wrap it."""
    filters = filters or ReportFilters()
    cols = _columns()
    stmt = (
        sa.select(
            *(expr.label(name) for name, expr in cols.items()),
            ChannelPartner.company_name.label("cp_name"),
            Category.id.label("category_id"),
            Category.name.label("category_name"),
        )
        .select_from(Lead)
        .outerjoin(CommissionTransaction, CommissionTransaction.lead_id == Lead.id)
        .outerjoin(ChannelPartner, ChannelPartner.id == cols["cp_id"])
        .outerjoin(Category, Category.id == Lead.category_id)
        .outerjoin(PlatformFeeSettlementItem, PlatformFeeSettlementItem.transaction_id == CommissionTransaction.id)
        .outerjoin(PlatformFeeSettlement, PlatformFeeSettlement.id == PlatformFeeSettlementItem.settlement_id)
    )
    if filters.date_from:
        stmt = stmt.where(cols["report_date"] >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        stmt = stmt.where(cols["report_date"] < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    if filters.cp_id:
        stmt = stmt.where(cols["cp_id"] == filters.cp_id)
    if filters.category_id:
        stmt = stmt.where(Lead.category_id == filters.category_id)
    if filters.stage:
        stmt = stmt.where(Lead.kanban_stage == filters.stage)
    if filters.tx_status:
        stmt = stmt.where(CommissionTransaction.status == filters.tx_status)
    if filters.commission_only:
        stmt = stmt.where(CommissionTransaction.status.in_(LIVE_STATUSES))
    return stmt.order_by(cols["report_date"].desc(), Lead.id)


def stream_rows(stmt: sa.Select):
    """Iterate a select's rows with a server-side cursor, 1000 at a time: memory stays flat whatever the size."""
    result = db.session.execute(stmt.execution_options(stream_results=True, yield_per=1000))
    yield from result


def report_rows(filters: ReportFilters | None = None):
    """The report's rows, streamed."""
    return stream_rows(report_select(filters))


# --- aggregates over the same select -------------------------------------------------------------


def _live(sub, column, condition=None):
    """Sum of a money column over rows whose transaction is not void (and `condition`)."""
    cond = sub.c.tx_status.in_(LIVE_STATUSES)
    if condition is not None:
        cond = sa.and_(cond, condition)
    return sa.func.coalesce(sa.func.sum(sa.case((cond, column), else_=None)), 0)


def _count(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _aggregates(sub) -> dict:
    return {
        "rows": sa.func.count(),
        "lead_value": sa.func.coalesce(sa.func.sum(sub.c.lead_value), 0),
        "active_leads": _count(sub.c.stage.in_(OPEN_STAGES)),
        "won_leads": _count(sub.c.stage == "won"),
        "lost_leads": _count(sub.c.stage == "lost"),
        "won_value": sa.func.coalesce(sa.func.sum(sa.case((sub.c.stage == "won", sub.c.lead_value))), 0),
        "transactions": _count(sub.c.tx_status.in_(LIVE_STATUSES)),
        "gross_commission": _live(sub, sub.c.gross_commission),
        "platform_fee": _live(sub, sub.c.platform_fee),
        "net_commission": _live(sub, sub.c.net_commission),
        "net_pending": _live(sub, sub.c.net_commission, sub.c.tx_status == "pending"),
        "net_due": _live(sub, sub.c.net_commission, sub.c.tx_status == "due"),
        "net_paid": _live(sub, sub.c.net_commission, sub.c.tx_status == "paid"),
        "due_count": _count(sub.c.tx_status == "due"),
        "requested_count": _count(sa.and_(sub.c.tx_status == "due", sub.c.settlement_requested_at.is_not(None))),
        "fee_settled": _live(sub, sub.c.platform_fee, sub.c.fee_settled_at.is_not(None)),
    }


MONEY_KEYS = ("lead_value", "won_value", "gross_commission", "platform_fee", "net_commission")
MONEY_KEYS += ("net_pending", "net_due", "net_paid", "fee_settled")
COUNT_KEYS = ("rows", "active_leads", "won_leads", "lost_leads", "transactions", "due_count", "requested_count")


def _normalise(row) -> dict:
    """Aggregates as Python values: money as Decimal cents, counts as int, plus outstanding fee and win rate."""
    data = dict(row._mapping)
    for key in MONEY_KEYS:
        data[key] = Decimal(str(data[key] or 0)).quantize(Decimal("0.01"))
    for key in COUNT_KEYS:
        data[key] = int(data[key] or 0)
    data["fee_outstanding"] = data["platform_fee"] - data["fee_settled"]
    closed = data["won_leads"] + data["lost_leads"]
    data["win_rate"] = data["won_leads"] / closed if closed else None
    return data


def report_totals(filters: ReportFilters | None = None) -> dict:
    """Totals over the report rows in one aggregate query. Money as Decimal; void transactions excluded."""
    sub = report_select(filters).order_by(None).subquery()
    return _normalise(db.session.execute(sa.select(*(e.label(n) for n, e in _aggregates(sub).items()))).one())


def grouped_totals(filters: ReportFilters | None, key: str, *extra_keys: str) -> list[dict]:
    """The same aggregates as report_totals, one row per value of the column `key` (e.g. stage, cp_id)."""
    sub = report_select(filters).order_by(None).subquery()
    group_cols = [sub.c[key], *(sub.c[k] for k in extra_keys)]
    stmt = sa.select(*group_cols, *(e.label(n) for n, e in _aggregates(sub).items())).group_by(*group_cols)
    return [_normalise(row) for row in db.session.execute(stmt)]


# --- pagination for the report page ------------------------------------------------------------


@dataclass
class Page:
    """What the pager macro needs, for a select of plain rows (db.paginate only pages entities)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def report_page(filters: ReportFilters, page: int, per_page: int = 50, total: int | None = None) -> Page:
    if total is None:
        total = report_totals(filters)["rows"]
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    rows = db.session.execute(report_select(filters).limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=rows, page=page, per_page=per_page, total=total)


def filter_choices() -> dict:
    """The options of a filter form: every partner and category by name, stages, transaction statuses."""
    partners = db.session.execute(
        sa.select(ChannelPartner.id, ChannelPartner.company_name).order_by(ChannelPartner.company_name)
    ).all()
    categories = db.session.execute(sa.select(Category.id, Category.name).order_by(Category.name)).all()
    return {"partners": partners, "categories": categories, "stages": STAGE_LABELS, "tx_statuses": TX_STATUSES}


def filter_names(filters: ReportFilters) -> tuple[str | None, str | None]:
    """The CP's and the category's names, for the "filters applied" line."""
    cp = db.session.get(ChannelPartner, filters.cp_id) if filters.cp_id else None
    category = db.session.get(Category, filters.category_id) if filters.category_id else None
    return (cp.company_name if cp else None, category.name if category else None)


def with_partner(filters: ReportFilters, partner) -> ReportFilters:
    """The same filters narrowed to one partner's own rows: what a CP may export."""
    return replace(filters, cp_id=partner.id)
