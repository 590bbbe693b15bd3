"""The admin dashboard: overview, recent leads, pending approvals, outstanding commissions, settlement
requests, platform-fee summary and announcements. Money figures come from app.services.reports."""

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import ChannelPartner, Lead
from app.portals.admin import bp
from app.services import announcements, reports
from app.web import render


def recent_leads(limit: int = 8) -> list[Lead]:
    stmt = (
        sa.select(Lead)
        .options(joinedload(Lead.category), joinedload(Lead.assignee), joinedload(Lead.originator))
        .order_by(Lead.created_at.desc(), Lead.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def pending_partners(limit: int = 8) -> list[ChannelPartner]:
    stmt = sa.select(ChannelPartner).where(ChannelPartner.status == "pending").order_by(ChannelPartner.created_at)
    return list(db.session.scalars(stmt.limit(limit)))


@bp.get("/")
def dashboard():
    return render(
        "admin/dashboard/page.html",
        overview=reports.admin_overview(),
        recent_leads=recent_leads(),
        pending_partners=pending_partners(),
        outstanding=reports.due_rows(),
        requests=reports.due_rows(requested_only=True),
        announcements=announcements.latest(5),
    )
