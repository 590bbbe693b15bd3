"""What a batch of platform-fee settlement would settle now: "N selected, $X", computed on the server.

The admin's fee list shows it beside the settle button as boxes are ticked, and the confirmation step repeats
it; fee_settlements.settle_fees then refuses a batch whose figures differ from the ones confirmed (a fee became
ready, or was settled by someone else, in between). Read-only: nothing here writes.
"""

import uuid
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from app.extensions import db
from app.models import ChannelPartner, CommissionTransaction, Lead
from app.money.fee_filters import FeeFilter, apply_filter
from app.money.fee_queries import collectable
from app.web.money import format_money

CT = CommissionTransaction
ZERO = Decimal("0.00")
MAX_IDS = 1000  # ticked boxes come from one page of the list; more is not a person ticking


@dataclass(frozen=True)
class Selection:
    """The fees a batch would settle now: how many, and their sum to the cent."""

    count: int
    total: Decimal

    @property
    def label(self) -> str:
        return f"{self.count} selected, {format_money(self.total)}"

    @property
    def sentence(self) -> str:
        words = "fee" if self.count == 1 else "fees"
        return f"You are about to settle {format_money(self.total)} for {self.count} {words}"


def confirmed(count: str, total: str) -> Selection:
    """The count and total the admin confirmed, from the confirmation form; ValueError when they are not figures."""
    try:
        parsed = Selection(int(count), Decimal(total).quantize(Decimal("0.01")))
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ValueError("The confirmed amount is not valid; review the batch again.") from exc
    if parsed.count < 0 or not parsed.total.is_finite():
        raise ValueError("The confirmed amount is not valid; review the batch again.")
    return parsed


def parse_ids(raw_ids) -> list[uuid.UUID] | None:
    """Ticked ids from a form or query string; None when one is not an id or there are too many."""
    if len(raw_ids) > MAX_IDS:
        return None
    try:
        return sorted({uuid.UUID(raw) for raw in raw_ids})
    except (ValueError, AttributeError, TypeError):
        return None


def _ready(stmt: sa.Select) -> sa.Select:
    return stmt.where(CT.status != "void", CT.fee_settled_at.is_(None), collectable())


def _chosen(stmt: sa.Select, transaction_ids, fee_filter: FeeFilter | None) -> sa.Select:
    if fee_filter is not None:
        return apply_filter(_ready(stmt), replace(fee_filter, state="outstanding"))
    return _ready(stmt).where(CT.id.in_(list(transaction_ids or ())))


def first_fees(transaction_ids=None, fee_filter: FeeFilter | None = None, limit: int = 25) -> list:
    """The first `limit` of those fees, oldest win first, for the confirmation to name them: rows of (lead_title,
    cp_name, won_at, platform_fee)."""
    title = sa.select(Lead.title).where(Lead.id == CT.lead_id).scalar_subquery()
    partner = sa.select(ChannelPartner.company_name).where(ChannelPartner.id == CT.cp_id).scalar_subquery()
    stmt = sa.select(title.label("lead_title"), partner.label("cp_name"), CT.won_at, CT.platform_fee)
    return list(db.session.execute(_chosen(stmt, transaction_ids, fee_filter).order_by(CT.won_at, CT.id).limit(limit)))


def selection(transaction_ids=None, fee_filter: FeeFilter | None = None) -> Selection:
    """The count and sum of the fees settle_fees would settle for these ids (or, with `fee_filter`, for "every fee
    matching the filter"): only fees that can be settled now count, as settle_fees would refuse the others."""
    if fee_filter is None and not transaction_ids:
        return Selection(0, ZERO)
    stmt = sa.select(sa.func.count(CT.id), sa.func.coalesce(sa.func.sum(CT.platform_fee), 0))
    count, total = db.session.execute(_chosen(stmt, transaction_ids, fee_filter)).one()
    return Selection(int(count), Decimal(str(total)).quantize(Decimal("0.01")))
