"""The platform-fee settlements already made (SPEC 2.7): the history tables and the lines of one settlement."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import (
    CommissionTransaction,
    Lead,
    PlatformFeeSettlement,
    PlatformFeeSettlementItem,
    StoredFile,
    User,
)
from app.models.users import display_name
from app.reporting.reports import Page
from app.statements import per_shape

CT, ITEM = CommissionTransaction, PlatformFeeSettlementItem


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


@per_shape(maxsize=1)
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
