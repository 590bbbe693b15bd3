"""The dashboards' figures: the CP's KPI cards and pipeline, the admin's overview and due lists.

Each figure is a total over the report rows (app.reporting.reports), read from the maintained rollups
(app.reporting.rollups) when they can answer, which equal the rows' figures to the cent.
"""

from dataclasses import replace

import sqlalchemy as sa

from app.extensions import db
from app.models import ChannelPartner, CommissionTransaction, Lead
from app.models.leads import STAGES
from app.reporting import rollups
from app.reporting.reports import COUNT_KEYS, MONEY_KEYS, ZERO, ReportFilters, grouped_totals
from app.statements import per_shape


def totals_from_rollup(sums: dict) -> dict:
    """report_totals' figures from a rollup sum (app.reporting.rollups), with the same keys and derived values.

    The rollups are folds of these same rows, maintained in the same transaction as every change and
    reconciled against them (tests/test_rollups.py), so the figures equal report_totals to the cent."""
    data = {key: sums[key] for key in MONEY_KEYS + COUNT_KEYS}
    data["fee_outstanding"] = data["platform_fee"] - data["fee_settled"]
    closed = data["won_leads"] + data["lost_leads"]
    data["win_rate"] = data["won_leads"] / closed if closed else None
    return data


def partner_kpis(partner, sums: dict | None = None) -> dict:
    """The CP dashboard's KPI cards, all over the report rows of this partner (its own commissions and leads).

    - Active leads: its leads in an open stage (new, contacted, qualified, proposal, negotiation).
    - Total commission earned: gross commission of its won leads' transactions that are not void
      (pending, due and paid alike: earned when won, whether or not the client has paid yet).
    - Platform fees deducted: the platform fee on those same transactions; earned − fees = net receivable.
    - Pending settlements: net commission on transactions that are `due` (the client paid the admin)
      and not yet settled to the CP; the count is shown beside it.

    Read from the partner's monthly rollup (or `sums`, that read already made): the same totals as
    report_totals(ReportFilters(cp_id=...)).
    """
    totals = totals_from_rollup(sums or rollups.partner_sums(partner.id))
    return {
        "active_leads": totals["active_leads"],
        "commission_earned": totals["gross_commission"],
        "fees_deducted": totals["platform_fee"],
        "net_receivable": totals["net_commission"],
        "net_received": totals["net_paid"],
        "pending_settlements": totals["net_due"],
        "pending_settlement_count": totals["due_count"],
    }


def partner_dashboard(partner) -> tuple[dict, list[dict]]:
    """The CP dashboard's KPI cards and pipeline by stage, from one read of the partner's rollup."""
    sums = rollups.partner_sums(partner.id)
    return partner_kpis(partner, sums), _stages(sums)


def _stages(sums: dict) -> list[dict]:
    return [{"stage": s, "count": sums[f"stage_{s}"], "value": sums[f"stage_{s}_value"]} for s in STAGES]


def pipeline_by_stage(filters: ReportFilters | None = None) -> list[dict]:
    """Lead count and lead value per stage, in pipeline order (every stage present, zeros included).

    With no filter or a partner-only filter the figures come from the rollups; otherwise from the rows."""
    filters = filters or ReportFilters()
    sums = rollups.figures(cp_id=filters.cp_id) if replace(filters, cp_id=None) == ReportFilters() else None
    if sums is not None:
        return _stages(sums)
    found = {row["stage"]: row for row in grouped_totals(filters, "stage")}
    return [
        {
            "stage": stage,
            "count": found[stage]["rows"] if stage in found else 0,
            "value": found[stage]["lead_value"] if stage in found else ZERO,
        }
        for stage in STAGES
    ]


def admin_overview() -> dict:
    """The admin dashboard's figures: totals over all report rows plus lead counts by allocation (from the rollup)
    and partner counts, in one statement."""
    row = db.session.execute(_overview_statement()).one()
    sums = rollups.values(row)
    return {
        "totals": totals_from_rollup(sums),
        "leads_pending": sums["alloc_pending"],
        "leads_allocated": sums["alloc_allocated"],
        "partners_approved": row.partners_approved,
        "partners_pending": row.partners_pending,
    }


@per_shape(maxsize=1)
def _overview_statement() -> sa.Select:
    def partners(status: str):
        count = sa.select(sa.func.count()).where(ChannelPartner.status == status).scalar_subquery()
        return count.label(f"partners_{status}")

    return rollups.all_time_select().add_columns(partners("approved"), partners("pending"))


def due_lists(limit: int = 8) -> tuple[list, list]:
    """The admin dashboard's two lists of due commissions (not yet settled to the CP), in one statement:
    the oldest client payments first, and the settlement requests, oldest first.

    Each list walks an index (ix_commission_transactions_due_client_paid, or the settlement_requested_at
    index) and reads the report row's columns of its few transactions: a due transaction is live, so the
    row's partner is the transaction's. Lead and partner names come by scalar subqueries (cheap to plan)."""
    rows = db.session.execute(_due_statement(limit)).all()
    return [r for r in rows if r.list == "due"], [r for r in rows if r.list == "requested"]


@per_shape(maxsize=4)
def _due_statement(limit: int) -> sa.Select:
    tx = CommissionTransaction

    def listed(name: str, order: tuple, *where):
        return (
            sa.select(
                sa.literal(name).label("list"),
                sa.func.row_number().over(order_by=order).label("position"),
                tx.lead_id,
                sa.select(Lead.title).where(Lead.id == tx.lead_id).scalar_subquery().label("lead_title"),
                tx.cp_id,
                sa.select(ChannelPartner.company_name)
                .where(ChannelPartner.id == tx.cp_id)
                .scalar_subquery()
                .label("cp_name"),
                tx.client_paid_at,
                tx.settlement_requested_at,
                tx.net_commission,
            )
            .where(tx.status == "due", *where)
            .order_by(*order)
            .limit(limit)
            .subquery(name)
        )

    due = listed("due", (tx.client_paid_at, tx.lead_id))
    requested = listed("requested", (tx.settlement_requested_at, tx.lead_id), tx.settlement_requested_at.is_not(None))
    both = sa.union_all(sa.select(due), sa.select(requested)).subquery("due_lists")
    return sa.select(both).order_by(both.c.list, both.c.position)
