"""Super admin: read-only partner profiles (list with search, and one profile with bank details)."""

import sqlalchemy as sa
from flask import request
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.loaders import load_partner
from app.models import ChannelPartner, CommissionTransaction
from app.models.partners import CP_STATUSES
from app.partners import profiles
from app.portals.superadmin import bp
from app.validators import query_page
from app.web import render

PAGE_SIZE = 25


@bp.get("/partners")
def partners():
    query = (request.args.get("q") or "").strip()[:100]
    status = request.args.get("status", "")
    stmt = profiles.partners_statement((status,) if status in CP_STATUSES else None, query)
    stmt = stmt.order_by(ChannelPartner.company_name, ChannelPartner.id)
    pagination = db.paginate(stmt, page=query_page(request.args), per_page=PAGE_SIZE, error_out=False)
    return render(
        "superadmin/partners/page.html",
        partial="superadmin/partners/partials/_table.html",
        pagination=pagination,
        q=query,
        status_filter=status if status in CP_STATUSES else "",
        statuses=CP_STATUSES,
    )


@bp.get("/partners/<partner_id>")
def partner_detail(partner_id):
    partner = load_partner(partner_id)
    transactions = db.session.scalars(
        sa.select(CommissionTransaction)
        .options(joinedload(CommissionTransaction.lead))
        .where(CommissionTransaction.cp_id == partner.id)
        .order_by(CommissionTransaction.won_at.desc())
        .limit(50)
    )
    return render(
        "superadmin/partners/detail.html",
        partner=partner,
        profile=profiles.profile_view(partner, current_user),
        transactions=list(transactions),
    )
