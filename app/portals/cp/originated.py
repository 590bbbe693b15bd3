"""Leads this partner brought in (read-only): category, submission date, intake status with the score and any
rejection reason, allocation status."""

import sqlalchemy as sa
from flask import request
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Lead
from app.models.leads import INTAKE_LABELS
from app.portals.cp import bp
from app.validators import query_page
from app.web import render

PAGE_SIZE = 20
STATUSES = ("pending", "allocated")


def _choice(name: str, allowed) -> str:
    value = request.args.get(name, "")
    return value if value in allowed else ""


@bp.get("/leads/originated")
def leads_originated():
    status, intake = _choice("status", STATUSES), _choice("intake", INTAKE_LABELS)
    stmt = (
        sa.select(Lead)
        .options(joinedload(Lead.category))
        .where(Lead.originated_by == current_user.partner.id)
        .order_by(Lead.created_at.desc(), Lead.id)
    )
    if status:
        stmt = stmt.where(Lead.allocation_status == status)
    if intake:
        stmt = stmt.where(Lead.intake_status == intake)
    page = query_page(request.args)
    pagination = db.paginate(stmt, page=max(page, 1), per_page=PAGE_SIZE, error_out=False)
    return render(
        "cp/originated/page.html",
        partial="cp/originated/partials/_table.html",
        pagination=pagination,
        status_filter=status,
        intake_filter=intake,
        intake_labels=INTAKE_LABELS,
    )
