"""Dashboards: every KPI against hand-computed figures, and equal to the same figure from the report rows."""

import re
from decimal import Decimal

import pytest

from app.comms import announcements
from app.extensions import db
from app.models import LeadActivity
from app.reporting import dashboards, reports
from app.reporting.reports import ReportFilters
from tests import factories, report_data
from tests.conftest import login

D = Decimal


@pytest.fixture
def data():
    return report_data.build()


def kpis_on_page(html: str) -> dict:
    """{data-kpi name: number} read back from the rendered cards ($1,234.50 → Decimal('1234.50'))."""
    found = re.findall(r'data-kpi="([a-z_]+)">([^<]+)<', html)
    return {name: D(re.sub(r"[^0-9.]", "", value)) for name, value in found}


def test_cp_kpis_match_hand_computed_figures(data):
    assert dashboards.partner_kpis(data["a"]) == report_data.expected_a()


def test_cp_kpis_equal_the_figures_from_the_report_rows(data):
    rows = list(reports.report_rows(ReportFilters(cp_id=data["a"].id)))
    live = [r for r in rows if r.tx_status in ("pending", "due", "paid")]
    kpis = dashboards.partner_kpis(data["a"])
    assert kpis["active_leads"] == sum(1 for r in rows if r.stage in reports.OPEN_STAGES)
    assert kpis["commission_earned"] == sum(r.gross_commission for r in live)
    assert kpis["fees_deducted"] == sum(r.platform_fee for r in live)
    assert kpis["pending_settlements"] == sum(r.net_commission for r in live if r.tx_status == "due")


def test_cp_dashboard_shows_its_own_figures_pipeline_and_activity(app, data):
    a, b = data["a"], data["b"]
    db.session.add(
        LeadActivity(
            lead_id=data["leads"]["warm"].id, action="stage_changed", detail={"from": "New", "to": "Contacted"}
        )
    )
    db.session.add(LeadActivity(lead_id=data["leads"]["beta"].id, action="note_added", detail={"excerpt": "Beta only"}))
    db.session.commit()
    html = login(app.test_client(), a.user).get("/cp/").get_data(as_text=True)
    shown = kpis_on_page(html)
    expected = report_data.expected_a()
    assert shown["active_leads"] == expected["active_leads"]
    for key in ("commission_earned", "fees_deducted", "pending_settlements"):
        assert shown[key] == expected[key], key
    assert "Welcome, Ødegaard &amp; Co." in html
    assert re.search(
        r'data-stage="won">.*?<td class="text-end">4</td>\s*<td class="text-end money">\$17,300.00', html, re.S
    )
    assert "Stage New → Contacted" in html and "Beta only" not in html
    assert 'role="img"' in html and "Pipeline by stage" in html

    other = kpis_on_page(login(app.test_client(), b.user).get("/cp/").get_data(as_text=True))
    assert other == {
        "active_leads": 1,
        "commission_earned": D("800.00"),
        "fees_deducted": D("80.00"),
        "pending_settlements": D("720.00"),
    }


def test_cp_sees_only_announcements_sent_to_it(app, data):
    admin = data["admin"]
    announcements.send(admin, "Price list update", "New prices from May.", None, False)
    announcements.send(admin, "Beta only news", "Just for Beta.", [str(data["b"].id)], False)
    db.session.commit()
    html = login(app.test_client(), data["a"].user).get("/cp/").get_data(as_text=True)
    assert "Price list update" in html and "Beta only news" not in html
    admin_html = login(app.test_client(), admin).get("/admin/").get_data(as_text=True)
    assert "Price list update" in admin_html and "Beta only news" in admin_html


def test_admin_dashboard_figures(app, data):
    factories.make_partner(status="pending", company="Waiting Co")
    db.session.commit()
    html = login(app.test_client(), data["admin"]).get("/admin/").get_data(as_text=True)
    shown = kpis_on_page(html)
    expected = report_data.expected_all()
    assert shown["net_due"] == expected["net_due"] == D("1670.00")
    assert shown["won_value"] == expected["won_value"]
    assert shown["fee_generated"] == expected["platform_fee"]
    assert shown["fee_settled"] == expected["fee_settled"]
    assert shown["fee_outstanding"] == expected["fee_outstanding"]
    assert shown["fee_generated"] == shown["fee_settled"] + shown["fee_outstanding"]
    assert shown["partners"] == 2 and shown["leads"] == 10
    assert "1 unallocated · 9 allocated" in html
    requests = html.split('id="settlement-requests"')[1].split("</ul>")[0]
    assert "Fixed fee deal" in requests and "Beta big deal" not in requests
    outstanding = html.split('id="outstanding-commissions"')[1].split("</table>")[0]
    assert "Fixed fee deal" in outstanding and "Beta big deal" in outstanding and "Acme rollout" not in outstanding
    assert "Waiting Co" in html and "Unallocated idea" in html


def test_dashboard_figures_equal_report_totals_under_the_same_filters(data):
    """The admin overview and pipeline are the report totals, not a second computation."""
    overview = dashboards.admin_overview()
    assert overview["totals"] == reports.report_totals()
    stages = {s["stage"]: s for s in dashboards.pipeline_by_stage()}
    for stage, row in stages.items():
        totals = reports.report_totals(ReportFilters(stage=stage))
        assert (row["count"], row["value"]) == (totals["rows"], totals["lead_value"])


def test_dashboards_use_a_bounded_number_of_queries(app, data):
    from sqlalchemy import event

    for i in range(12):
        lead = factories.make_lead(data["a"], title=f"Extra {i}", category_id=data["solar"].id)
        db.session.add(LeadActivity(lead_id=lead.id, action="created", detail={"title": lead.title}))
    db.session.commit()
    counts = {}
    for who, url in ((data["a"].user, "/cp/"), (data["admin"], "/admin/")):
        client = login(app.test_client(), who)
        statements = []

        def listener(*_args, seen=statements):
            seen.append(1)

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        counts[url] = len(statements)
    assert counts["/cp/"] < 20 and counts["/admin/"] < 20, counts


def test_super_dashboard_lists_every_fee_with_its_partner_and_settlement(app):
    from app.money import fee_queries
    from tests.fee_support import settle, won

    with app.test_request_context():
        factories.make_fee_config("percentage", "10")
    cp = factories.make_partner(company="Breakdown Co")
    admin, superadmin = factories.make_user("admin"), factories.make_user("super_admin")
    won(cp, admin, commission="500", title="Old outstanding deal", days_ago=45)
    with app.test_request_context():
        settlement = settle(admin, [won(cp, admin, commission="1000", title="Settled deal", days_ago=2)])
    db.session.commit()
    page = login(app.test_client(), superadmin).get("/super/").get_data(as_text=True)
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>", page)
    assert rows == [("Settled deal", "Breakdown Co"), ("Old outstanding deal", "Breakdown Co")]
    assert f"/super/settlements/{settlement.id}" in page
    assert f"Settled {settlement.settled_at.strftime('%d %b %Y')}" in page
    assert "Overdue</span> Outstanding" in page
    assert fee_queries.totals().generated_count == 2
