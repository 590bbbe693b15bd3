"""The channel partner's dashboard: KPI cards, pipeline by stage, recent activity, announcements.

Every figure comes from app.reporting.dashboards (totals over the report rows), see partner_dashboard().
"""

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.comms import announcements
from app.extensions import db
from app.models import Lead, LeadActivity
from app.models.leads import STAGE_LABELS
from app.portals.cp import bp
from app.reporting import charts, dashboards
from app.web import render

STAGE_COLOURS = {"won": charts.GREEN, "lost": charts.RED}


def recent_activity(partner, limit: int = 8) -> list[tuple[LeadActivity, str]]:
    """The newest activity on leads this partner is assigned or originated, with each lead's title."""
    stmt = (
        sa.select(LeadActivity, Lead.title)
        .join(Lead, Lead.id == LeadActivity.lead_id)
        .where(sa.or_(Lead.allocated_to == partner.id, Lead.originated_by == partner.id))
        .options(joinedload(LeadActivity.actor))
        .order_by(LeadActivity.created_at.desc(), LeadActivity.id)
        .limit(limit)
    )
    return db.session.execute(stmt).all()


def pipeline_chart(stages: list[dict]) -> charts.Chart:
    return charts.Chart(
        key="cp-pipeline",
        title="Pipeline by stage",
        description="Number of your leads in each pipeline stage.",
        kind="bar",
        labels=[STAGE_LABELS[s["stage"]] for s in stages],
        series=[
            charts.Series(
                "Leads",
                [s["count"] for s in stages],
                charts.BLUE,
                colors=[STAGE_COLOURS.get(s["stage"], charts.BLUE) for s in stages],
            )
        ],
        x_label="Stage",
        y_label="Leads",
        height=240,
    )


@bp.get("/")
def dashboard():
    partner = current_user.partner
    kpis, stages = dashboards.partner_dashboard(partner)
    return render(
        "cp/dashboard/page.html",
        partner=partner,
        kpis=kpis,
        stages=stages,
        pipeline=pipeline_chart(stages),
        activity=recent_activity(partner),
        announcements=announcements.latest_for_partner(partner, 5),
    )
