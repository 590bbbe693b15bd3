"""Leads this partner brought in (read-only): category, submission date, allocation status."""

import sqlalchemy as sa
from flask import request
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Lead
from app.portals.cp import bp
from app.validators import query_page
from app.web import render

PAGE_SIZE = 20
STATUSES = ("pending", "allocated")


@bp.get("/leads/originated")
def leads_originated():
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    stmt = (
        sa.select(Lead)
        .options(joinedload(Lead.category))
        .where(Lead.originated_by == current_user.partner.id)
        .order_by(Lead.created_at.desc(), Lead.id)
    )
    if status:
        stmt = stmt.where(Lead.allocation_status == status)
    page = query_page(request.args)
    pagination = db.paginate(stmt, page=max(page, 1), per_page=PAGE_SIZE, error_out=False)
    return render(
        "cp/originated/page.html",
        partial="cp/originated/partials/_table.html",
        pagination=pagination,
        status_filter=status,
    )
