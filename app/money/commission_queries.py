"""Reading commission transactions (SPEC 2): which ones a list shows. The admin's list and the API filter the
same way; each orders and pages them as it shows them."""

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.models import CommissionTransaction

CT = CommissionTransaction


def transactions_statement(cp_id: uuid.UUID | None = None, status: str = "", requested: bool = False) -> sa.Select:
    """Transactions of one partner (or all), in one status (or any), and only the open settlement requests
    (due, asked for by the partner) when `requested`; with their lead and partner loaded, unordered."""
    stmt = sa.select(CT).options(joinedload(CT.lead), joinedload(CT.partner))
    if cp_id is not None:
        stmt = stmt.where(CT.cp_id == cp_id)
    if status:
        stmt = stmt.where(CT.status == status)
    if requested:
        stmt = stmt.where(CT.settlement_requested_at.is_not(None), CT.status == "due")
    return stmt
