"""Reading origination credits (SPEC 9.2): the admin's list, pending first, and a partner's own with totals."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import OriginationCredit
from app.models.intake import CREDIT_STATUSES

PAGE_SIZE = 25
STATUS_LABELS = {
    "pending_approval": "Pending approval",
    "approved": "Approved",
    "rejected": "Rejected",
    "paid": "Paid",
}


def _listing(partner_id=None, status: str | None = None):
    pending_first = sa.case((OriginationCredit.status == "pending_approval", 0), else_=1)
    stmt = (
        sa.select(OriginationCredit)
        .options(joinedload(OriginationCredit.lead), joinedload(OriginationCredit.partner))
        .order_by(pending_first, OriginationCredit.created_at.desc(), OriginationCredit.id)
    )
    if partner_id is not None:
        stmt = stmt.where(OriginationCredit.partner_id == partner_id)
    if status in CREDIT_STATUSES:
        stmt = stmt.where(OriginationCredit.status == status)
    return stmt


def credits_page(page: int = 1, partner_id=None, status: str | None = None, per_page: int = PAGE_SIZE):
    """A page of credits, those pending approval first, then newest first."""
    return db.paginate(_listing(partner_id, status), page=max(page, 1), per_page=per_page, error_out=False)


def totals(partner_id=None) -> dict[str, tuple[int, Decimal]]:
    """{status: (count, amount)} for every status (zeros included), for one partner or all."""
    stmt = sa.select(
        OriginationCredit.status, sa.func.count(), sa.func.coalesce(sa.func.sum(OriginationCredit.amount), 0)
    ).group_by(OriginationCredit.status)
    if partner_id is not None:
        stmt = stmt.where(OriginationCredit.partner_id == partner_id)
    found = {status: (count, Decimal(amount)) for status, count, amount in db.session.execute(stmt)}
    return {status: found.get(status, (0, Decimal("0.00"))) for status in CREDIT_STATUSES}
