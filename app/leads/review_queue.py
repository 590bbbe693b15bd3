"""Reading the intake review queue (SPEC 9.2): `pending_review` leads, best score first, oldest first among
equals (served by ix_leads_intake_score), with what the reviewer needs on each row loaded up front."""

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Lead
from app.models.leads import CHANNELS

PAGE_SIZE = 20


def queue_statement(category_id=None, channel: str | None = None):
    stmt = (
        sa.select(Lead)
        .options(
            joinedload(Lead.category),
            joinedload(Lead.originator),
            joinedload(Lead.duplicate_of).joinedload(Lead.originator),
        )
        .where(Lead.intake_status == "pending_review")
        .order_by(Lead.quality_score.desc(), Lead.created_at, Lead.id)
    )
    if category_id is not None:
        stmt = stmt.where(Lead.category_id == category_id)
    if channel in CHANNELS:
        stmt = stmt.where(Lead.channel == channel)
    return stmt


def queue_page(page: int = 1, category_id=None, channel: str | None = None, per_page: int = PAGE_SIZE):
    """One page of the review queue (a Flask-SQLAlchemy Pagination of Leads)."""
    stmt = queue_statement(category_id, channel)
    return db.paginate(stmt, page=max(page, 1), per_page=per_page, error_out=False)


def waiting_count() -> int:
    """How many leads wait for review (the sidebar and dashboard link)."""
    return db.session.scalar(sa.select(sa.func.count()).where(Lead.intake_status == "pending_review")) or 0
