"""The maintained aggregates (app.reporting.rollups): kept in step by every service that moves money or leads,
equal to the same figures computed from the report rows, rebuilt and reconciled on demand."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.cli import rebuild_rollups_command
from app.extensions import db
from app.leads import deletion, pipeline
from app.models import CommissionTransaction, Lead
from app.models.base import utcnow
from app.models.rollups import MONEY_MEASURES, DailyRollup, PartnerMonthlyRollup
from app.money import commissions, fee_filters, fee_queries
from app.reporting import analytics, dashboards, reports, rollups
from app.reporting.reports import ReportFilters
from app.reporting.rollups import ranking
from tests import factories, report_data
from tests.fee_support import settle, won

D = Decimal


@pytest.fixture
def data():
    return report_data.build()


@pytest.fixture
def fee_rule(app):
    with app.test_request_context():  # the services' notifications build links
        yield factories.make_fee_config("percentage", "10")


def assert_in_step(*partners):
    """Rollups == a fresh fold of the rows, and every dashboard figure == the report rows' figure."""
    db.session.flush()
    assert rollups.reconcile() == []
    assert dashboards.admin_overview()["totals"] == reports.report_totals()
    for partner in partners:
        from_rows = reports.report_totals(ReportFilters(cp_id=partner.id))
        kpis = dashboards.partner_kpis(partner)
        assert kpis["commission_earned"] == from_rows["gross_commission"]
        assert kpis["fees_deducted"] == from_rows["platform_fee"]
        assert kpis["pending_settlements"] == from_rows["net_due"]
        assert kpis["active_leads"] == from_rows["active_leads"]
        by_stage = {
            s["stage"]: (s["count"], s["value"]) for s in dashboards.pipeline_by_stage(ReportFilters(cp_id=partner.id))
        }
        for row in reports.grouped_totals(ReportFilters(cp_id=partner.id), "stage"):
            assert by_stage[row["stage"]] == (row["rows"], row["lead_value"])


def test_fixed_data_set_rollups_equal_the_report_rows(data):
    assert_in_step(data["a"], data["b"])
    totals = dashboards.admin_overview()["totals"]
    assert totals["platform_fee"] == D("301.67") and totals["fee_settled"] == D("100.00")
    assert totals["fee_outstanding"] == D("201.67")


def test_every_money_operation_keeps_the_rollups_in_step(app, fee_rule):
    admin, super_admin = factories.make_user("admin"), factories.make_user("super_admin")
    partner, other = factories.make_partner(), factories.make_partner()
    paid = won(partner, admin, commission="1000", value="10000")
    pending = won(other, admin, commission="500", value="4000", paid=False)
    assert_in_step(partner, other)

    lead = db.session.get(Lead, pending.lead_id)
    pipeline.set_amounts(lead, D("6000"), D("750"), admin, lead.version)  # edit amounts of an unpaid commission
    assert_in_step(partner, other)

    settle(admin, [paid])  # the platform fee settled to the super admin
    assert db.session.get(CommissionTransaction, paid.id).fee_settled_at is not None
    assert_in_step(partner, other)

    pipeline.change_stage(lead, "negotiation", admin, lead.version)  # leaving Won voids the commission
    assert db.session.get(CommissionTransaction, pending.id).status == "void"
    assert_in_step(partner, other)

    pipeline.change_stage(lead, "won", admin, lead.version)  # won again: the transaction comes back
    commissions.record_client_payment(db.session.get(CommissionTransaction, pending.id), admin, utcnow().date(), "X")
    assert_in_step(partner, other)

    deletion.delete_lead(lead, super_admin, confirmed_twice=True)  # a due commission goes with its lead
    assert_in_step(partner, other)
    db.session.commit()
    assert rollups.reconcile() == []


def test_a_rolled_back_change_leaves_the_rollups_as_they_were(app, fee_rule):
    admin, partner = factories.make_user("admin"), factories.make_partner()
    won(partner, admin, paid=False)
    db.session.commit()
    before = dashboards.admin_overview()["totals"]
    lead = factories.make_lead(partner, kanban_stage="won", lead_value=D("100"), commission_amount=D("10"))
    commissions.open_for_won_lead(lead, admin)
    db.session.flush()
    assert dashboards.admin_overview()["totals"] != before
    db.session.rollback()
    assert dashboards.admin_overview()["totals"] == before
    assert rollups.reconcile() == []


def test_rebuild_reproduces_the_maintained_rollups_and_repairs_drift(data):
    db.session.commit()

    def snapshot():
        return {
            table.__tablename__: sorted(
                tuple(getattr(r, m) for m in ("rows", "platform_fee", "fee_settled", "won_value"))
                for r in db.session.scalars(sa.select(table))
            )
            for table in (DailyRollup, PartnerMonthlyRollup)
        }

    maintained = snapshot()
    db.session.execute(sa.update(DailyRollup).values(platform_fee=DailyRollup.platform_fee + 1))
    assert rollups.reconcile() != []
    rollups.rebuild()
    assert snapshot() == maintained
    assert rollups.reconcile() == []


def test_reconcile_names_a_missing_and_an_extra_rollup_row(data):
    db.session.commit()
    gone = db.session.scalars(sa.select(PartnerMonthlyRollup).where(PartnerMonthlyRollup.rows > 0).limit(1)).one()
    key, rows = (gone.cp_key, gone.month), gone.rows
    db.session.delete(gone)
    stray = DailyRollup(period="day", day=date(1999, 1, 1), category_key=uuid.uuid4(), rows=3)
    db.session.add(stray)
    db.session.flush()
    problems = rollups.reconcile()
    assert f"partner {key} rows: rollup 0 != rows {rows}" in problems
    assert f"daily ('day', datetime.date(1999, 1, 1), {stray.category_key!r}) rows: rollup 3 != rows 0" in problems


def test_rebuild_rollups_command_checks_and_rebuilds(app, data):
    db.session.commit()
    runner = CliRunner()
    result = runner.invoke(rebuild_rollups_command, ["--check"], obj=app.extensions.get("script_info"))
    assert result.exit_code == 0, result.output
    assert "reconcile" in result.output
    db.session.execute(sa.delete(DailyRollup))
    db.session.commit()
    assert runner.invoke(rebuild_rollups_command, ["--check"]).exit_code == 1
    result = runner.invoke(rebuild_rollups_command, [])
    assert result.exit_code == 0 and "Rebuilt" in result.output
    assert rollups.reconcile() == []


def _analytics_from_rows(rng):
    """The analytics series computed straight from the report rows (the pre-rollup query path)."""
    sub = reports.report_select().order_by(None).subquery()
    rows = db.session.execute(sa.select(sub)).all()
    keys = analytics.bucket_keys(rng)

    def in_range(value):
        return value is not None and rng.start <= value < rng.end

    def key_of(value):
        return analytics.bucket_start(value.date(), rng.grouping).isoformat()

    created = {k: 0 for k in keys}
    fee = {k: D("0.00") for k in keys}
    for row in rows:
        if in_range(row.lead_created_at):
            created[key_of(row.lead_created_at)] += 1
        if in_range(row.won_at) and row.tx_status in reports.LIVE_STATUSES:
            fee[key_of(row.won_at)] += row.platform_fee
    return tuple(created[k] for k in keys), tuple(fee[k] for k in keys)


@pytest.mark.parametrize(
    "date_from, date_to",
    [
        (date(2026, 1, 1), date(2026, 4, 30)),
        (date(2026, 1, 14), date(2026, 3, 9)),
        (date(2026, 2, 3), date(2026, 2, 26)),
    ],
)
def test_analytics_from_rollups_equal_the_rows(data, date_from, date_to):
    for grouping in ("month", "week"):
        rng = analytics.Range(date_from, date_to, grouping)
        created, fee = _analytics_from_rows(rng)
        assert analytics.lead_volume(rng).series[0].values == created
        assert analytics.revenue(rng).series[1].values == fee


def test_month_and_week_rows_add_up_to_the_day_rows_for_any_range(data):
    """A range read as whole months (or weeks) plus the days of the periods it cuts equals its day rows."""
    db.session.flush()
    table = DailyRollup
    measures = ("rows", "platform_fee", "created_leads", "closed_won", "fee_settled_on")

    def by_days(date_from, date_to):
        stmt = sa.select(*(sa.func.coalesce(sa.func.sum(getattr(table, m)), 0) for m in measures))
        stmt = stmt.where(table.period == "day")
        if date_from is not None:
            stmt = stmt.where(table.day >= date_from)
        if date_to is not None:
            stmt = stmt.where(table.day <= date_to)
        return tuple(int(v) for v in db.session.execute(stmt).one())

    start = date(2025, 12, 20)
    days = [None] + [start + timedelta(days=n) for n in range(0, 110, 3)]
    for date_from in days:
        for date_to in days:
            if date_from is not None and date_to is not None and date_to < date_from:
                continue
            expected = by_days(date_from, date_to)
            for period in ("month", "week", "day"):
                stmt = sa.select(*(sa.func.coalesce(sa.func.sum(getattr(table, m)), 0) for m in measures))
                got = db.session.execute(stmt.where(rollups.period_rows(date_from, date_to, period))).one()
                assert tuple(int(v) for v in got) == expected, (date_from, date_to, period)
            sums = rollups.platform_sums(date_from, date_to, measures)
            assert [sums[m] if m not in MONEY_MEASURES else rollups.cents(sums[m]) for m in measures] == list(expected)


@pytest.mark.parametrize(
    "date_from, date_to",
    [
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 2, 11), date(2026, 3, 4)),
    ],
)
def test_top_partners_and_categories_equal_the_rows_for_any_range(data, date_from, date_to):
    rng = analytics.Range(date_from, date_to, "month")
    filters = ReportFilters(date_from=date_from, date_to=date_to)
    expected = [r for r in reports.grouped_totals(filters, "cp_id", "cp_name") if r["cp_id"] is not None]
    expected.sort(key=lambda r: (-r["won_value"], -r["won_leads"], r["cp_name"] or ""))
    chart = analytics.top_partners(rng)
    assert chart.labels == tuple(r["cp_name"] for r in expected)
    assert chart.series[0].values == tuple(r["won_value"] for r in expected)
    by_category = {
        r["category_name"] or "Uncategorised": r["rows"]
        for r in reports.grouped_totals(filters, "category_id", "category_name")
    }
    chart = analytics.categories(rng)
    assert dict(zip(chart.labels, chart.series[0].values, strict=True)) == by_category


def test_fee_income_figures_equal_the_rows(app, fee_rule):
    admin, partner = factories.make_user("admin"), factories.make_partner()
    old = won(partner, admin, commission="1000", days_ago=200)
    won(partner, admin, commission="500", days_ago=5)
    won(partner, admin, commission="300", paid=False)
    settle(admin, [old])
    totals = fee_queries.totals()
    by_rows = fee_queries.totals(cp_id=partner.id)  # the per-partner totals are computed from the rows
    assert totals == by_rows
    month = next(m for m in fee_queries.monthly(12) if m["month"] == utcnow().strftime("%Y-%m"))
    assert month["settled"] == old.platform_fee
    assert fee_queries.count_fees(fee_filters.FeeFilter(state="outstanding")) == 2
    assert fee_queries.count_fees(fee_filters.FeeFilter(state="settled")) == 1
    assert fee_queries.count_fees(fee_filters.FeeFilter(cp_id=partner.id, state="outstanding")) == 2
    since = fee_filters.FeeFilter(date_from=(utcnow() - timedelta(days=30)).date())
    assert fee_queries.count_fees(since) == 2


def test_top_partner_ranking_stops_early_only_when_no_candidate_left_can_win(data, monkeypatch):
    """The candidate-by-candidate ranking (all-time won value as the bound) equals summing every partner."""
    full = ranking._ranked(ranking._range_sums(None, date(2026, 1, 1), date(2026, 12, 1)), 10)
    monkeypatch.setattr(ranking, "RANKING_BATCH", 1)
    for limit in (1, 2, 10):
        assert rollups.top_partners(date(2026, 1, 1), date(2026, 12, 1), limit) == full[:limit]
    assert rollups.top_partners(date(2026, 3, 1), date(2026, 3, 1), 1) == ranking._ranked(
        ranking._range_sums(None, date(2026, 3, 1), date(2026, 3, 1)), 1
    )


def test_top_partners_chart_with_the_first_candidates_read_along_equals_the_full_ranking(data, monkeypatch):
    """The analytics statement reads the first batch of candidates; later batches are read by the ranking."""
    rng = analytics.Range(date(2026, 1, 1), date(2026, 12, 31), "month")
    full = ranking._ranked(ranking._range_sums(None, date(2026, 1, 1), date(2026, 12, 1)), 10)
    for batch in (1, 2, 50):
        monkeypatch.setattr(ranking, "RANKING_BATCH", batch)
        figs = analytics.figures(rng)
        assert len(figs.candidates) == min(batch, 2)
        chart = analytics.top_partners(rng, figs=figs)
        assert chart.labels == tuple(r["cp_name"] for r in full)
        assert chart.series[0].values == tuple(r["won_value"] for r in full)
