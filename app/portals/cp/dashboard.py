"""The channel partner's dashboard: onboarding checklist, account cards, performance over a range of months
(commission this month and year to date, conversion, quota use, the partner's goal, commission trend, pipeline
funnel), pipeline by stage, recent activity, announcements.

The account cards and pipeline come from app.reporting.dashboards; the range's figures from
app.reporting.partner_dashboard, both out of ONE read of the partner's rollup rows (performance()).
The range form is a GET form: HTMX swaps the performance section, and the same URL renders the whole page.
"""

import sqlalchemy as sa
from flask import flash, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.comms import announcements
from app.extensions import db
from app.leads import intake
from app.models import Lead, LeadActivity
from app.models.base import utcnow
from app.models.leads import STAGE_LABELS, STAGES
from app.partners import goals, onboarding
from app.portals.cp import bp
from app.portals.cp.dashboard_forms import GoalForm, RangeForm
from app.reporting import charts, dashboards
from app.reporting import partner_dashboard as perf_figures
from app.web import is_htmx_partial, render
from app.web.actions import run_action
from app.web.money import currency_symbol

STAGE_COLOURS = {"won": charts.GREEN, "lost": charts.RED}
ONBOARDED_KEY = "cp_onboarded"  # the partner whose checklist was complete in this login session


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


def quota_use(partner) -> dict | None:
    """Leads submitted this UTC month against the monthly quota an admin set (None: no quota)."""
    if partner.monthly_lead_quota is None:
        return None
    quota = partner.monthly_lead_quota
    used = quota - intake.quota_left(partner)
    return {"used": used, "quota": quota, "percent": min(100, used * 100 // quota) if quota else 100}


def _checklist(partner, all_time_rows: int) -> list:
    """The onboarding steps still worth showing: none once every step was done, remembered for the login session
    so that an onboarded partner's dashboard runs no query for the checklist."""
    if session.get(ONBOARDED_KEY) == str(partner.id):
        return []
    steps = onboarding.checklist(partner, current_user, all_time_rows)
    if all(step.done for step in steps):
        session[ONBOARDED_KEY] = str(partner.id)
        return []
    return steps


def _range_form() -> tuple[RangeForm, bool]:
    form = RangeForm(formdata=request.args or None)
    return form, form.validate_custom(utcnow().date())


def _page(range_form: RangeForm, status: int = 200, goal_form: GoalForm | None = None, goal_message: str = ""):
    """The whole dashboard, or (for HTMX) the performance section the range and goal forms swap."""
    partner = current_user.partner
    rng = range_form.month_range(utcnow().date())
    perf = perf_figures.performance(partner, rng)
    goal = goals.goal_of(partner)
    stages = [
        {"stage": s, "count": perf.all_time[f"stage_{s}"], "value": perf.all_time[f"stage_{s}_value"]} for s in STAGES
    ]
    context = {
        "partner": partner,
        "range_form": range_form,
        "rng": rng,
        "perf": perf,
        "goal": goal,
        "progress": perf_figures.goal_progress(goal, perf),
        "goal_form": goal_form or GoalForm(formdata=None, obj=goal),
        "goal_message": goal_message,
        "trend": perf_figures.trend_chart(perf, rng, currency_symbol()),
        "funnel": perf_figures.funnel_chart(perf, rng),
        "quota": quota_use(partner),
    }
    if is_htmx_partial():
        return render(
            "cp/dashboard/page.html", partial="cp/dashboard/partials/_performance.html", status=status, **context
        )
    return render(
        "cp/dashboard/page.html",
        status=status,
        kpis=dashboards.partner_kpis(partner, perf.all_time),
        stages=stages,
        pipeline=pipeline_chart(stages),
        activity=recent_activity(partner),
        announcements=announcements.latest_for_partner(partner, 5),
        checklist=_checklist(partner, perf.all_time["rows"]),
        **context,
    )


@bp.get("/")
def dashboard():
    form, valid = _range_form()
    return _page(form, 200 if valid else 422)


@bp.post("/goal")
def dashboard_goal():
    """Set or remove the partner's goal (owners and managers); the range comes along in the query string."""
    range_form, _valid = _range_form()
    partner = current_user.partner
    if request.form.get("action") == "remove":
        goals.remove_goal(partner, actor=current_user)
        db.session.commit()
        return _goal_answer(range_form, "Goal removed.")

    def save(form):
        return goals.set_goal(partner, form.amount.data, form.period.data, actor=current_user)

    def answer(outcome):
        if outcome.ok:
            return _goal_answer(range_form, "Goal saved.")
        return _page(range_form, outcome.status, goal_form=outcome.form)

    return run_action(GoalForm(), save, answer)


def _goal_answer(range_form: RangeForm, message: str):
    if is_htmx_partial():
        return _page(range_form, goal_message=message)
    flash(message, "success")
    return redirect(url_for("cp.dashboard", **range_form.month_range(utcnow().date()).params(), _anchor="goal"), 303)
