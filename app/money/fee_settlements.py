"""Platform fees owed to the super admin (SPEC 2.7): totals, lists, and settling them in batches.

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
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.audit import trail as audit
from app.comms import notifications
from app.extensions import db
from app.models import (
    ChannelPartner,
    CommissionTransaction,
    CpPayment,
    Lead,
    PlatformFeeSettlement,
    PlatformFeeSettlementItem,
    StoredFile,
    User,
)
from app.models.base import MONEY, utcnow
from app.models.rollups import NO_KEY
from app.models.users import display_name
from app.money import fees
from app.reporting import rollups
from app.reporting.reports import Page
from app.validators import query_date, query_uuid

CT, ITEM = CommissionTransaction, PlatformFeeSettlementItem
ZERO = Decimal("0.00")
MAX_NOTE = 2000


class SettlementRefused(Exception):
    """The batch cannot be settled as chosen (already settled, void, gone); nothing was written."""


class NothingToSettle(ValueError):
    """No fee was chosen, or the chosen fees add up to nothing."""


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


@dataclass(frozen=True)
class FeeFilter:
    cp_id: uuid.UUID | None = None
    date_from: date | None = None  # won on or after
    date_to: date | None = None  # won on or before
    state: str = ""  # "" (all) | settled | outstanding
    overdue: bool = False  # outstanding and won more than FEE_OVERDUE_DAYS ago
    partner_name: str = ""  # what was typed in the partner search (when there are too many for a list)


def overdue_cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=current_app.config["FEE_OVERDUE_DAYS"])


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
    return _apply_filter(stmt, fee_filter)


# --- the filter as bind parameters --------------------------------------------------------------------
# Each active part of a FeeFilter is a condition on a bind parameter; the hot statements (the page, its
# counts) are built once per combination of parts in use and kept, and a request only binds the values.


def _filter_parts(f: FeeFilter) -> tuple[tuple[str, ...], dict]:
    """(names of the conditions in use, in a fixed order; their bind values)."""
    values = {
        "cp_id": f.cp_id,
        "won_from": datetime.combine(f.date_from, time.min) if f.date_from else None,
        "won_before": datetime.combine(f.date_to + timedelta(days=1), time.min) if f.date_to else None,
        "overdue_cutoff": overdue_cutoff() if f.overdue else None,
    }
    parts = [part for part, key in _VALUED_PARTS if values[key] is not None]
    if f.state == "settled":
        parts.append("settled")
    elif f.state == "outstanding" or f.overdue:
        # The denormalised settled date (not an anti-join with the settlement items): the partial index
        # ix_commission_transactions_fee_outstanding then walks only the outstanding fees by won_at.
        parts.append("outstanding")
    return tuple(parts), {key: value for key, value in values.items() if value is not None}


_VALUED_PARTS = (("cp", "cp_id"), ("from", "won_from"), ("to", "won_before"), ("overdue", "overdue_cutoff"))


def _where(stmt: sa.Select, parts: tuple[str, ...]) -> sa.Select:
    conditions = {
        "cp": lambda: CT.cp_id == sa.bindparam("cp_id", type_=CT.cp_id.type),
        "from": lambda: CT.won_at >= sa.bindparam("won_from", type_=CT.won_at.type),
        "to": lambda: CT.won_at < sa.bindparam("won_before", type_=CT.won_at.type),
        "settled": lambda: CT.fee_settled_at.is_not(None),
        "outstanding": lambda: CT.fee_settled_at.is_(None),
        "overdue": lambda: CT.won_at < sa.bindparam("overdue_cutoff", type_=CT.won_at.type),
    }
    return stmt.where(*(conditions[part]() for part in parts))


def _apply_filter(stmt: sa.Select, f: FeeFilter) -> sa.Select:
    parts, values = _filter_parts(f)
    return _where(stmt, parts).params(**values)


def count_fees(fee_filter: FeeFilter = FeeFilter(), totals: FeeTotals | None = None) -> int:
    """How many fees the filter lists: from the platform totals (the rollup) when only the state is
    chosen, else an indexed count. Pass `totals` when the page has them already."""
    if replace(fee_filter, state="") == FeeFilter():
        totals = totals or _platform_totals()
        return {"settled": totals.settled_count, "outstanding": totals.outstanding_count}.get(
            fee_filter.state, totals.generated_count
        )
    parts, values = _filter_parts(fee_filter)
    return db.session.scalar(_count_statement(parts), values)


@lru_cache(maxsize=64)
def _count_statement(parts: tuple[str, ...], ready_only: bool = False) -> sa.Select:
    stmt = _where(sa.select(sa.func.count(CT.id)).where(CT.status != "void"), parts)
    return stmt.where(collectable()) if ready_only else stmt


def fee_page(
    fee_filter: FeeFilter, page: int, per_page: int, oldest_first: bool = False, totals: FeeTotals | None = None
) -> Page:
    """One page of the fee list (or the outstanding list, oldest first) with a fast total for the pager.

    The items are `fee_rows`: the fees of fees_query / outstanding_query, in the same order."""
    total = count_fees(replace(fee_filter, state="outstanding") if oldest_first else fee_filter, totals)
    pages = max(1, -(-total // per_page))
    page = min(max(page or 1, 1), pages)
    parts, values = _filter_parts(replace(fee_filter, state="outstanding") if oldest_first else fee_filter)
    stmt = _fee_rows_statement(parts, oldest_first)
    items = db.session.execute(stmt, {**values, "limit": per_page, "offset": (page - 1) * per_page}).all()
    return Page(items=items, page=page, per_page=per_page, total=total)


@lru_cache(maxsize=64)
def _fee_rows_statement(parts: tuple[str, ...], oldest_first: bool) -> sa.Select:
    stmt = _where(fee_rows(), parts)
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
    return _apply_filter(stmt.order_by(CT.won_at.desc(), CT.id), fee_filter)


def outstanding_query(fee_filter: FeeFilter = FeeFilter()) -> sa.Select:
    """Outstanding fees, oldest first (the ones to settle first), for the super admin and the batch form."""
    stmt = fees_query(replace(fee_filter, state="outstanding"))
    return stmt.order_by(None).order_by(CT.won_at, CT.id)


def matching_outstanding_ids(fee_filter: FeeFilter) -> list[uuid.UUID]:
    """The ids behind "select all matching the filter": the filter is re-applied here, not taken from a page.

    Only fees that can be settled now are included."""
    stmt = sa.select(CT.id).where(CT.status != "void")
    stmt = _apply_filter(stmt, replace(fee_filter, state="outstanding")).where(collectable())
    return list(db.session.scalars(stmt.order_by(CT.id)))


def count_matching_outstanding(fee_filter: FeeFilter, platform_totals: FeeTotals | None = None) -> int:
    """How many fees "select all matching the filter" would settle now (the count, not the ids). Over the whole
    platform (`platform_totals` when the page has them) or one partner, the rollups keep it (`fee_ready`);
    a date range or "overdue only" counts the rows."""
    if replace(fee_filter, state="", cp_id=None, partner_name="") == FeeFilter() and fee_filter.cp_id != NO_KEY:
        if fee_filter.cp_id is None:
            return (platform_totals or _platform_totals()).ready_count
        return rollups.partner_sums(fee_filter.cp_id, ("fee_ready",))["fee_ready"]
    parts, values = _filter_parts(replace(fee_filter, state="outstanding"))
    return db.session.scalar(_count_statement(parts, ready_only=True), values)


PICKER_LIMIT = 300


def partners_with_fees() -> list | None:
    """(id, company_name) of every partner with a fee, for the filter's picker; None when there are too many
    partners for a list (the page then shows a name search instead of a 10,000-option menu)."""
    count, listing = _picker_statements()
    if db.session.scalar(count) > PICKER_LIMIT:
        return None
    return db.session.execute(listing).all()


@lru_cache(maxsize=1)
def _picker_statements() -> tuple[sa.Select, sa.Select]:
    first = sa.select(ChannelPartner.id).limit(PICKER_LIMIT + 1).subquery()
    has_fee = sa.exists().where(CT.cp_id == ChannelPartner.id, CT.status != "void")
    listing = sa.select(ChannelPartner.id, ChannelPartner.company_name).where(has_fee)
    return sa.select(sa.func.count()).select_from(first), listing.order_by(ChannelPartner.company_name)


class SettlementRow(NamedTuple):
    """A settlement as the history tables show it: plain columns, not the settlement with two loaded objects."""

    id: uuid.UUID
    settled_at: datetime
    amount: Decimal
    lead_count: int
    notes: str | None
    bank_slip_file_id: uuid.UUID | None
    slip_name: str | None  # the bank slip's file name
    settler_own_name: str | None
    settler_email: str | None

    @property
    def settler_name(self) -> str | None:
        return display_name(self.settler_own_name, self.settler_email) if self.settler_email else None


@lru_cache(maxsize=1)
def _settlement_rows() -> sa.Select:
    settlement = PlatformFeeSettlement
    return (
        sa.select(
            settlement.id,
            settlement.settled_at,
            settlement.amount,
            settlement.lead_count,
            settlement.notes,
            settlement.bank_slip_file_id,
            StoredFile.original_name,
            User.name,
            User.email,
        )
        .outerjoin(StoredFile, StoredFile.id == settlement.bank_slip_file_id)
        .outerjoin(User, User.id == settlement.settled_by)
        .order_by(settlement.settled_at.desc(), settlement.id)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )


def recent_settlements(limit: int) -> list[SettlementRow]:
    """The newest settlements, newest first."""
    return [SettlementRow(*row) for row in db.session.execute(_settlement_rows(), {"limit": limit, "offset": 0})]


def settlement_page(page: int, per_page: int) -> Page:
    """One page of every settlement, newest first."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeSettlement))
    page = min(max(page or 1, 1), max(1, -(-total // per_page)))
    rows = db.session.execute(_settlement_rows(), {"limit": per_page, "offset": (page - 1) * per_page})
    return Page(items=[SettlementRow(*row) for row in rows], page=page, per_page=per_page, total=total)


def settlement_items(settlement: PlatformFeeSettlement) -> list[PlatformFeeSettlementItem]:
    stmt = (
        sa.select(ITEM)
        .where(ITEM.settlement_id == settlement.id)
        .options(joinedload(ITEM.lead), joinedload(ITEM.transaction).joinedload(CT.partner))
        .outerjoin(Lead, Lead.id == ITEM.lead_id)
        .order_by(Lead.title, ITEM.id)
    )
    return list(db.session.scalars(stmt))


def _by_key(idempotency_key: str) -> PlatformFeeSettlement | None:
    return db.session.scalar(
        sa.select(PlatformFeeSettlement).where(PlatformFeeSettlement.idempotency_key == idempotency_key)
    )


def _lock(ids: list[uuid.UUID]) -> list[CommissionTransaction]:
    """SELECT ... FOR UPDATE in id order, so concurrent overlapping batches queue instead of deadlocking."""
    stmt = sa.select(CT).where(CT.id.in_(ids)).order_by(CT.id).with_for_update(of=CT)
    return list(db.session.scalars(stmt.execution_options(populate_existing=True)))


def _titles(txs) -> str:
    names = [f"'{tx.lead.title}'" if tx.lead is not None else "a deleted lead" for tx in txs]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _check_batch(ids: list[uuid.UUID], txs: list[CommissionTransaction]) -> None:
    if len(txs) != len(ids):
        raise SettlementRefused("Some of the chosen fees no longer exist. Reload the page and choose again.")
    void = [tx for tx in txs if tx.status == "void"]
    if void:
        raise SettlementRefused(f"Nothing was settled: the commission of {_titles(void)} is void.")
    settled_ids = set(db.session.scalars(sa.select(ITEM.transaction_id).where(ITEM.transaction_id.in_(ids))))
    if settled_ids:
        already = [tx for tx in txs if tx.id in settled_ids]
        raise SettlementRefused(f"Nothing was settled: the fee of {_titles(already)} has already been settled.")
    ready = settleable_ids(ids)
    waiting = [tx for tx in txs if tx.id not in ready]
    if waiting:
        reason = waiting_reason(waiting[0]).lower()
        raise SettlementRefused(f"Nothing was settled: the fee of {_titles(waiting)} cannot be settled yet ({reason}).")


def _store_slip(slip, actor):
    from app.files import storage

    if slip is None:
        raise NothingToSettle("Attach the bank slip of the transfer.")
    if hasattr(slip, "storage_key"):  # already stored (demo data, tests)
        return slip
    return storage.save_upload(slip, "bank_slip", actor=actor, cp_id=None, allowed=("image", "pdf"))


def settle_fees(
    actor,
    *,
    idempotency_key: str,
    slip,
    note: str | None = None,
    transaction_ids=None,
    fee_filter: FeeFilter | None = None,
) -> tuple[PlatformFeeSettlement, bool]:
    """Settle the chosen outstanding fees to the super admin as ONE settlement; returns (settlement, created).

    Choose fees by `transaction_ids` or, for "select all matching the filter", by `fee_filter`.
    The whole batch is refused (SettlementRefused) if any fee is void, gone or already settled. A
    repeated `idempotency_key` (a double submission) returns the first settlement with created=False.
    `slip` is an uploaded file (storage.UploadRejected propagates) or an already StoredFile.
    """
    existing = _by_key(idempotency_key)
    if existing is not None:
        return existing, False
    ids = matching_outstanding_ids(fee_filter) if fee_filter is not None else list(transaction_ids or ())
    ids = sorted(set(ids))
    if not ids:
        raise NothingToSettle("Choose at least one outstanding fee to settle.")
    txs = _lock(ids)
    existing = _by_key(idempotency_key)  # a twin request may have committed while we waited for the locks
    if existing is not None:
        return existing, False
    _check_batch(ids, txs)
    amount = sum((tx.platform_fee for tx in txs), ZERO)
    if amount <= 0:
        raise NothingToSettle("The chosen fees add up to $0.00; there is nothing to transfer.")
    stored_slip = _store_slip(slip, actor)
    settlement = PlatformFeeSettlement(
        amount=amount,
        lead_count=len(txs),
        settled_by=actor.id,
        bank_slip_file_id=stored_slip.id,
        notes=(note or "").strip()[:MAX_NOTE] or None,
        idempotency_key=idempotency_key,
        settled_at=utcnow(),
    )
    settlement.items = [ITEM(transaction_id=tx.id, lead_id=tx.lead_id, amount=tx.platform_fee) for tx in txs]
    db.session.add(settlement)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the unique item/key constraints: the last line of defence
        raise SettlementRefused("Nothing was settled: these fees were settled by someone else just now.") from exc
    _record(actor, settlement, txs)
    _notify(settlement)
    return settlement, True


def _record(actor, settlement: PlatformFeeSettlement, txs: list[CommissionTransaction]) -> None:
    for tx in txs:
        audit.record(
            actor,
            "platform_fee.settled",
            tx,
            before={"fee_state": "outstanding", "platform_fee": tx.platform_fee, "status": tx.status},
            after={"fee_state": "settled", "platform_fee": tx.platform_fee, "settlement_id": settlement.id},
        )
    audit.record(
        actor,
        "platform_fee_settlement.created",
        settlement,
        before=None,
        after={
            "amount": settlement.amount,
            "lead_count": settlement.lead_count,
            "transactions": [str(tx.id) for tx in txs],
            "bank_slip": settlement.bank_slip_file_id,
        },
    )


def money_text(amount: Decimal) -> str:
    return f"{current_app.config['CURRENCY_SYMBOL']}{amount:,.2f}"


def _notify(settlement: PlatformFeeSettlement) -> None:
    from app.money.commissions import link

    notifications.notify_super_admins(
        "platform_fee_settled",
        reference=("settlement", settlement.id),
        link=link("superadmin.settlements_detail", settlement_id=settlement.id),
        amount=money_text(settlement.amount),
        count=settlement.lead_count,
        leads_word="lead" if settlement.lead_count == 1 else "leads",
    )


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


def parse_filter(args) -> FeeFilter:
    """A FeeFilter from query-string or form values (cp, from, to, state, overdue); bad values are ignored."""
    state = args.get("state", "")
    name = (args.get("partner") or "").strip()[:200]
    cp_id = query_uuid(args.get("cp"))
    return FeeFilter(
        cp_id=cp_id if cp_id or not name else partner_by_name(name),
        partner_name=name if cp_id is None else "",
        date_from=query_date(args.get("from")),
        date_to=query_date(args.get("to")),
        state=state if state in ("settled", "outstanding") else "",
        overdue=args.get("overdue") in ("1", "on", "true", "y"),
    )


def partner_by_name(name: str) -> uuid.UUID:
    """The partner a typed name means: the exact name (any case), else the first name containing it.

    No match gives an id no partner has, so the filtered list is empty rather than unfiltered."""
    lowered = sa.func.lower(ChannelPartner.company_name)
    pattern = "%" + name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    stmt = (
        sa.select(ChannelPartner.id)
        .where(lowered.like(pattern, escape="\\"))
        .order_by((lowered == name.lower()).desc(), ChannelPartner.company_name)
        .limit(1)
    )
    return db.session.scalar(stmt) or uuid.UUID(int=0)


def filter_args(f: FeeFilter) -> dict:
    """The query-string form of a filter (for links, pagers and the batch form's hidden fields)."""
    if f.partner_name:
        f = replace(f, cp_id=None)
    args = {
        "cp": f.cp_id,
        "partner": f.partner_name,
        "from": f.date_from,
        "to": f.date_to,
        "state": f.state,
        "overdue": "1" if f.overdue else "",
    }
    return {k: str(v) for k, v in args.items() if v}
