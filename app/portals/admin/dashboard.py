"""The admin dashboard: overview, recent leads, pending approvals, outstanding commissions, settlement
requests, platform-fee summary and announcements. Money figures come from app.reporting.dashboards."""

import sqlalchemy as sa

from app.comms import announcements
from app.extensions import db
from app.models import Category, ChannelPartner, Lead
from app.models.leads import STAGE_LABELS
from app.portals.admin import bp
from app.reporting import dashboards
from app.web import render


def recent_leads(limit: int = 8) -> list:
    """The newest leads as rows of what the panel shows (names by scalar subqueries: cheap to plan)."""
    stmt = sa.select(
        Lead.id,
        Lead.title,
        Lead.kanban_stage,
        Lead.lead_value,
        Lead.created_at,
        sa.select(Category.name).where(Category.id == Lead.category_id).scalar_subquery().label("category_name"),
        sa.select(ChannelPartner.company_name)
        .where(ChannelPartner.id == Lead.allocated_to)
        .scalar_subquery()
        .label("assignee_name"),
    )
    return db.session.execute(stmt.order_by(Lead.created_at.desc(), Lead.id).limit(limit)).all()


def pending_partners(limit: int = 8) -> list:
    stmt = sa.select(ChannelPartner.id, ChannelPartner.company_name, ChannelPartner.created_at)
    stmt = stmt.where(ChannelPartner.status == "pending").order_by(ChannelPartner.created_at)
    return db.session.execute(stmt.limit(limit)).all()


@bp.get("/")
def dashboard():
    outstanding, requests = dashboards.due_lists()
    return render(
        "admin/dashboard/page.html",
        overview=dashboards.admin_overview(),
        recent_leads=recent_leads(),
        pending_partners=pending_partners(),
        outstanding=outstanding,
        requests=requests,
        announcements=announcements.latest(5),
        stage_labels=STAGE_LABELS,
    )
