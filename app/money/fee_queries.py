"""Platform fees owed to the super admin (SPEC 2.7): totals, lists, pages and counts (settling them: fee_settlements).

A fee is *generated* by every commission transaction that is not void; it is *settled* once a
PlatformFeeSettlementItem points at its transaction (unique: a fee is settled at most once, ever)
and *outstanding* otherwise. So generated = settled + outstanding, by construction, to the cent.

An outstanding fee can be settled once the platform holds it and its amount is final: the
commission is paid (settled to the CP, so frozen), and when the client paid the CP directly, the
CP's own payment of the fee has completed. Settled amounts therefore never drift from the
transactions they cover.
"""

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import (
    ChannelPartner,
    CommissionTransaction,
    CpPayment,
    Lead,
    PlatformFeeSettlement,
    PlatformFeeSettlementItem,
)
from app.models.base import MONEY, utcnow
from app.models.rollups import NO_KEY
from app.money import fees
from app.money.fee_filters import FeeFilter, apply_filter, filter_parts, overdue_cutoff, where_parts
from app.reporting import rollups
from app.reporting.reports import Page
from app.statements import per_shape

CT, ITEM = CommissionTransaction, PlatformFeeSettlementItem
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class FeeTotals:
    generated: Decimal
    settled: Decimal
    outstanding: Decimal
    generated_count: int
    settled_count: int
    outstanding_count: int
    overdue: Decimal
    overdue_count: int
    ready_count: int  # outstanding fees that can be settled now (see collectable)


def is_overdue(tx: CommissionTransaction, now: datetime | None = None) -> bool:
    return overdue_test(now)(tx)


def overdue_test(now: datetime | None = None):
    """is_overdue for a table of fees: the cutoff is computed once, not per row."""
    cutoff = overdue_cutoff(now)
    return lambda tx: tx.status != "void" and tx.fee_settled_at is None and tx.won_at < cutoff


def collectable() -> sa.ColumnElement[bool]:
    """SQL: the platform holds this fee and its amount is final (see the module docstring)."""
    cp_paid_fee = sa.exists().where(CpPayment.commission_tx_id == CT.id, CpPayment.status == "completed")
    return sa.and_(CT.status == "paid", sa.or_(CT.client_paid_cp_directly.is_(False), cp_paid_fee))


def settleable_ids(ids) -> set[uuid.UUID]:
    """Of these transactions, the ones whose outstanding fee can be settled now (one query for a page)."""
    if not ids:
        return set()
    stmt = sa.select(CT.id).where(CT.id.in_(list(ids)), CT.fee_settled_at.is_(None), collectable())
    return set(db.session.scalars(stmt))


def waiting_reason(tx: CommissionTransaction) -> str:
    """Why an outstanding fee cannot be settled yet, in the admin's words."""
    if tx.status == "pending":
        return "Waiting for the client payment"
    if tx.status == "due":
        return "Settle the commission to the partner first"
    if tx.client_paid_cp_directly:
        return "Waiting for the partner to pay this fee"
    return ""


def _money_sum(expr) -> sa.ColumnElement:
    return sa.type_coerce(sa.func.coalesce(sa.func.sum(expr), 0), MONEY)


def _cents(value) -> Decimal:
    return fees.to_cents(Decimal(str(value or 0)))


def totals(cp_id: uuid.UUID | None = None) -> FeeTotals:
    """Generated, settled, outstanding (and overdue) fees; void is excluded."""
    if cp_id is None:
        return _platform_totals()
    settled = CT.fee_settled_at.is_not(None)
    overdue = sa.and_(CT.fee_settled_at.is_(None), CT.won_at < overdue_cutoff())
    stmt = (
        sa.select(
            _money_sum(CT.platform_fee),
            _money_sum(sa.case((settled, CT.platform_fee), else_=0)),
            _money_sum(sa.case((CT.fee_settled_at.is_(None), CT.platform_fee), else_=0)),
            sa.func.count(CT.id),
            sa.func.count(CT.fee_settled_at),
            _money_sum(sa.case((overdue, CT.platform_fee), else_=0)),
            sa.func.count(sa.case((overdue, 1))),
            sa.func.count(sa.case((sa.and_(CT.fee_settled_at.is_(None), collectable()), 1))),
        )
        .select_from(CT)
        .where(CT.status != "void")
    )
    if cp_id is not None:
        stmt = stmt.where(CT.cp_id == cp_id)
    generated, settled_sum, outstanding, count, settled_count, overdue_sum, overdue_count, ready = db.session.execute(
        stmt
    ).one()
    return FeeTotals(
        generated=_cents(generated),
        settled=_cents(settled_sum),
        outstanding=_cents(outstanding),
        generated_count=count,
        settled_count=settled_count,
        outstanding_count=count - settled_count,
        overdue=_cents(overdue_sum),
        overdue_count=overdue_count,
        ready_count=ready,
    )


def _edge_columns() -> tuple:
    """The fees won on the overdue cutoff's own day before the cutoff and not settled: (sum, count), as scalar
    subqueries over one day of rows (the won_at index) for the statement of the platform totals."""
    edge = sa.and_(
        CT.status != "void",
        CT.won_at >= sa.bindparam("edge_day", type_=CT.won_at.type),
        CT.won_at < sa.bindparam("edge_cutoff", type_=CT.won_at.type),
        CT.fee_settled_at.is_(None),
    )
    return (
        sa.select(_money_sum(CT.platform_fee)).where(edge).scalar_subquery(),
        sa.select(sa.func.count(CT.id)).where(edge).scalar_subquery(),
    )


EDGE_COLUMNS = _edge_columns()


TOTAL_MEASURES = ("platform_fee", "transactions", "fee_settled", "fee_settled_count", "fee_ready")


def _platform_totals() -> FeeTotals:
    """The platform-wide totals from the maintained daily rollup (app.reporting.rollups), not 366,000 rows.

    Generated and settled are the rollup's `platform_fee` / `fee_settled` (void excluded, keyed by the
    won day). Overdue = outstanding on days before the cutoff's day, plus the fees won on the cutoff's
    own day before the cutoff time (one day of rows, by the won_at index). One statement.
    """
    cutoff = overdue_cutoff()
    edge_day = datetime.combine(cutoff.date(), time.min)
    sums, early, (edge, edge_count) = rollups.platform_sums_split(
        cutoff.date(), TOTAL_MEASURES, EDGE_COLUMNS, {"edge_day": edge_day, "edge_cutoff": cutoff}
    )
    outstanding = sums["platform_fee"] - sums["fee_settled"]
    return FeeTotals(
        generated=sums["platform_fee"],
        settled=sums["fee_settled"],
        outstanding=outstanding,
        generated_count=sums["transactions"],
        settled_count=sums["fee_settled_count"],
        outstanding_count=sums["transactions"] - sums["fee_settled_count"],
        overdue=early["platform_fee"] - early["fee_settled"] + _cents(edge),
        overdue_count=early["transactions"] - early["fee_settled_count"] + edge_count,
        ready_count=sums["fee_ready"],
    )


def fees_query(fee_filter: FeeFilter = FeeFilter()) -> sa.Select:
    """Every generated fee (one per non-void transaction) matching the filter, newest win first."""
    stmt = (
        sa.select(CT)
        .where(CT.status != "void")
        .options(
            joinedload(CT.lead),
            joinedload(CT.partner),
            joinedload(CT.fee_settlement_item).joinedload(ITEM.settlement),
        )
        .order_by(CT.won_at.desc(), CT.id)
    )
    return apply_filter(stmt, fee_filter)


def count_fees(fee_filter: FeeFilter = FeeFilter(), totals: FeeTotals | None = None) -> int:
    """How many fees the filter lists: from the platform totals (the rollup) when only the state is
    chosen, else an indexed count. Pass `totals` when the page has them already."""
    if replace(fee_filter, state="") == FeeFilter():
        totals = totals or _platform_totals()
        return {"settled": totals.settled_count, "outstanding": totals.outstanding_count}.get(
            fee_filter.state, totals.generated_count
        )
    parts, values = filter_parts(fee_filter)
    return db.session.scalar(_count_statement(parts), values)


@per_shape(maxsize=64)
def _count_statement(parts: tuple[str, ...], ready_only: bool = False) -> sa.Select:
    stmt = where_parts(sa.select(sa.func.count(CT.id)).where(CT.status != "void"), parts)
    return stmt.where(collectable()) if ready_only else stmt


def fee_page(
    fee_filter: FeeFilter, page: int, per_page: int, oldest_first: bool = False, totals: FeeTotals | None = None
) -> Page:
    """One page of the fee list (or the outstanding list, oldest first) with a fast total for the pager.

    The items are `fee_rows`: the fees of fees_query / outstanding_query, in the same order."""
    total = count_fees(replace(fee_filter, state="outstanding") if oldest_first else fee_filter, totals)
    pages = max(1, -(-total // per_page))
    page = min(max(page or 1, 1), pages)
    parts, values = filter_parts(replace(fee_filter, state="outstanding") if oldest_first else fee_filter)
    stmt = _fee_rows_statement(parts, oldest_first)
    items = db.session.execute(stmt, {**values, "limit": per_page, "offset": (page - 1) * per_page}).all()
    return Page(items=items, page=page, per_page=per_page, total=total)


@per_shape(maxsize=64)
def _fee_rows_statement(parts: tuple[str, ...], oldest_first: bool) -> sa.Select:
    stmt = where_parts(fee_rows(), parts)
    if oldest_first:
        stmt = stmt.order_by(None).order_by(CT.won_at, CT.id)
    return stmt.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))


def fee_rows(fee_filter: FeeFilter = FeeFilter()) -> sa.Select:
    """The fee lists' rows (the admin's fee list, the super admin's fee per lead), newest win first: what the
    tables show (with the rule snapshotted on the transaction) and is_overdue / waiting_reason read, the
    lead's title, the partner's name, the settlement (id, date) and `ready` (settleable now, see collectable).

    Plain rows with scalar subqueries rather than the transaction with four joined objects: the planner has
    one table to order and nothing is mapped (a page: 3.2 -> 1.1 ms at 1,000,000 leads, settleable included)."""
    title = sa.select(Lead.title).where(Lead.id == CT.lead_id)
    partner = sa.select(ChannelPartner.company_name).where(ChannelPartner.id == CT.cp_id)
    item = sa.select(ITEM.settlement_id).where(ITEM.transaction_id == CT.id)
    settled_at = sa.select(PlatformFeeSettlement.settled_at).join(ITEM).where(ITEM.transaction_id == CT.id)
    stmt = sa.select(
        CT.id,
        CT.won_at,
        CT.status,
        CT.fee_settled_at,
        CT.client_paid_cp_directly,
        CT.lead_value,
        CT.gross_commission,
        CT.fee_rule_type,
        CT.fee_rule_value,
        CT.fee_rule_source,
        CT.fee_capped,
        CT.platform_fee,
        title.scalar_subquery().label("lead_title"),
        partner.scalar_subquery().label("cp_name"),
        item.scalar_subquery().label("settlement_id"),
        settled_at.scalar_subquery().label("settled_at"),
        sa.and_(CT.fee_settled_at.is_(None), collectable()).label("ready"),
    ).where(CT.status != "void")
    return apply_filter(stmt.order_by(CT.won_at.desc(), CT.id), fee_filter)


def outstanding_query(fee_filter: FeeFilter = FeeFilter()) -> sa.Select:
    """Outstanding fees, oldest first (the ones to settle first), for the super admin and the batch form."""
    stmt = fees_query(replace(fee_filter, state="outstanding"))
    return stmt.order_by(None).order_by(CT.won_at, CT.id)


def matching_outstanding_ids(fee_filter: FeeFilter) -> list[uuid.UUID]:
    """The ids behind "select all matching the filter": the filter is re-applied here, not taken from a page.

    Only fees that can be settled now are included."""
    stmt = sa.select(CT.id).where(CT.status != "void")
    stmt = apply_filter(stmt, replace(fee_filter, state="outstanding")).where(collectable())
    return list(db.session.scalars(stmt.order_by(CT.id)))


def count_matching_outstanding(fee_filter: FeeFilter, platform_totals: FeeTotals | None = None) -> int:
    """How many fees "select all matching the filter" would settle now (the count, not the ids). Over the whole
    platform (`platform_totals` when the page has them) or one partner, the rollups keep it (`fee_ready`);
    a date range or "overdue only" counts the rows."""
    if replace(fee_filter, state="", cp_id=None, partner_name="") == FeeFilter() and fee_filter.cp_id != NO_KEY:
        if fee_filter.cp_id is None:
            return (platform_totals or _platform_totals()).ready_count
        return rollups.partner_sums(fee_filter.cp_id, ("fee_ready",))["fee_ready"]
    parts, values = filter_parts(replace(fee_filter, state="outstanding"))
    return db.session.scalar(_count_statement(parts, ready_only=True), values)


PICKER_LIMIT = 300


def partners_with_fees() -> list | None:
    """(id, company_name) of every partner with a fee, for the filter's picker; None when there are too many
    partners for a list (the page then shows a name search instead of a 10,000-option menu)."""
    count, listing = _picker_statements()
    if db.session.scalar(count) > PICKER_LIMIT:
        return None
    return db.session.execute(listing).all()


@per_shape(maxsize=1)
def _picker_statements() -> tuple[sa.Select, sa.Select]:
    first = sa.select(ChannelPartner.id).limit(PICKER_LIMIT + 1).subquery()
    has_fee = sa.exists().where(CT.cp_id == ChannelPartner.id, CT.status != "void")
    listing = sa.select(ChannelPartner.id, ChannelPartner.company_name).where(has_fee)
    return sa.select(sa.func.count()).select_from(first), listing.order_by(ChannelPartner.company_name)


def _month_expr(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(column, sa.literal_column("'YYYY-MM'"))
    return sa.func.strftime(sa.literal_column("'%Y-%m'"), column)


def month_keys(months: int, today: date | None = None) -> list[str]:
    today = today or utcnow().date()
    year, month = today.year, today.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def monthly(months: int = 12, today: date | None = None) -> list[dict]:
    """Generated (by win month) and settled (by settlement month) fees for the last `months` months (from the rollup)."""
    keys = month_keys(months, today)
    start = date.fromisoformat(keys[0] + "-01")
    rows = rollups.daily_grouped(_month_expr(rollups.DailyRollup.day), start, None, ("platform_fee", "fee_settled_on"))
    found = {str(r["key"])[:7]: r for r in rows}
    return [
        {
            "month": k,
            "generated": found[k]["platform_fee"] if k in found else ZERO,
            "settled": found[k]["fee_settled_on"] if k in found else ZERO,
        }
        for k in keys
    ]
