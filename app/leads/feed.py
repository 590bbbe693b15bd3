"""The leads a user may list through the API (SPEC 9.5), filtered; the same visibility as app.loaders.load_lead:
staff see every lead, a partner's members the leads assigned to it or originated by it."""

import sqlalchemy as sa

from app.models import Lead

FILTERS = ("stage", "intake_status", "allocation_status", "category_id", "partner_id", "channel")


def statement(user, filters: dict):
    stmt = sa.select(Lead)
    if not user.is_staff:
        partner = user.partner
        if partner is None:
            return stmt.where(sa.false())
        stmt = stmt.where(sa.or_(Lead.allocated_to == partner.id, Lead.originated_by == partner.id))
    columns = {
        "stage": Lead.kanban_stage,
        "intake_status": Lead.intake_status,
        "allocation_status": Lead.allocation_status,
        "category_id": Lead.category_id,
        "partner_id": Lead.allocated_to,
        "channel": Lead.channel,
    }
    for name, column in columns.items():
        if filters.get(name) is not None:
            stmt = stmt.where(column == filters[name])
    if filters.get("created_after") is not None:
        stmt = stmt.where(Lead.created_at >= filters["created_after"])
    return stmt
