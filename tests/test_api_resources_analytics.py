"""Analytics through the API: the super admin's figures on the fixed data set of tests/report_data.py (computed by
hand there), the same numbers /super/ and /super/analytics draw; nobody else may read them."""

from decimal import Decimal

from app.extensions import db
from app.models.base import utcnow
from app.reporting import analytics
from tests import factories, report_data
from tests.api_support import bearer, token_for


def boss_headers():
    boss = factories.make_user("super_admin")
    db.session.commit()
    return bearer(token_for(boss))


def test_income_reconciles_and_follows_the_months(client):
    report_data.build()
    headers = boss_headers()
    income = client.get("/api/v1/analytics/income", headers=headers)
    assert income.status_code == 200
    body = income.json
    assert (body["generated"], body["settled"], body["outstanding"]) == ("301.67", "100.00", "201.67")
    assert Decimal(body["generated"]) == Decimal(body["settled"]) + Decimal(body["outstanding"])
    assert body["generated_count"] == 5 and body["settled_count"] == 1 and body["outstanding_count"] == 4
    assert len(body["months"]) == 12 and body["months"][-1]["month"] == utcnow().strftime("%Y-%m")
    by_month = {m["month"]: m for m in body["months"]}
    if "2026-01" in by_month:  # the data set is dated 2026: while it is within the last twelve months
        assert by_month["2026-01"]["generated"] == "100.00" and by_month["2026-02"]["generated"] == "130.00"
        assert by_month["2026-02"]["settled"] == "100.00"
    three = client.get("/api/v1/analytics/income?months=3", headers=headers).json
    assert len(three["months"]) == 3
    for bad in ("0", "37", "x"):
        assert client.get(f"/api/v1/analytics/income?months={bad}", headers=headers).status_code == 422


def test_figures_over_a_range(client):
    report_data.build()
    headers = boss_headers()
    answer = client.get("/api/v1/analytics?date_from=2026-01-01&date_to=2026-03-31&group=month", headers=headers)
    assert answer.status_code == 200
    body = answer.json
    assert (body["date_from"], body["date_to"], body["group"]) == ("2026-01-01", "2026-03-31", "month")
    periods = body["periods"]
    assert [p["start"] for p in periods] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert [p["label"] for p in periods] == ["Jan 2026", "Feb 2026", "Mar 2026"]
    assert [p["leads_created"] for p in periods] == [1, 1, 1]
    assert [p["leads_won"] for p in periods] == [1, 2, 2]
    assert [p["win_rate"] for p in periods] == [50.0, 100.0, 100.0]
    assert [p["platform_fee"] for p in periods] == ["100.00", "130.00", "71.67"]
    for p in periods:
        assert Decimal(p["gross_commission"]) == Decimal(p["platform_fee"]) + Decimal(p["net_commission"])
    assert [(p["name"], p["won_value"], p["win_rate"]) for p in body["top_partners"]] == [
        ("Ødegaard & Co.", "17300.00", 80.0),
        ("Beta Ltd", "8000.00", 100.0),
    ]
    chart = analytics.categories(
        analytics.range_from_args({"date_from": "2026-01-01", "date_to": "2026-03-31"})
    )  # the page's chart and the API read the same rows
    assert [c["name"] or "Uncategorised" for c in body["categories"]] == list(chart.labels)
    assert [c["leads"] for c in body["categories"]] == list(chart.series[0].values)

    weekly = client.get("/api/v1/analytics?date_from=2026-03-01&date_to=2026-03-31&group=week", headers=headers).json
    assert weekly["group"] == "week" and weekly["periods"][0]["start"] == "2026-02-23"  # weeks start on Monday
    swapped = client.get("/api/v1/analytics?date_from=2026-03-31&date_to=2026-01-01", headers=headers).json
    assert (swapped["date_from"], swapped["date_to"]) == ("2026-01-01", "2026-03-31")
    long_weeks = client.get("/api/v1/analytics?date_from=2020-01-01&date_to=2026-01-01&group=week", headers=headers)
    assert long_weeks.json["group"] == "month"  # too many weeks: by month, as the page does
    assert client.get("/api/v1/analytics?group=day", headers=headers).status_code == 422
    assert client.get("/api/v1/analytics?date_from=2026-13-01", headers=headers).status_code == 422


def test_only_the_super_admin_reads_analytics(client):
    admin = factories.make_user("admin")
    partner = factories.make_partner()
    db.session.commit()
    for user in (admin, partner.user):
        assert client.get("/api/v1/analytics/income", headers=bearer(token_for(user))).status_code == 403
        assert client.get("/api/v1/analytics", headers=bearer(token_for(user))).status_code == 403
