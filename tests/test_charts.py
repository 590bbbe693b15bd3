"""SVG charts: accessible structure, scales, tooltips, escaping; the analytics page, its downloads and SQL bucketing."""

import io
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal

import pypdf
import pytest

from app.extensions import db
from app.reporting import analytics, charts
from tests import factories, report_data
from tests.conftest import login

SVG = "{http://www.w3.org/2000/svg}"


def sample(kind="bar", **kw) -> charts.Chart:
    return charts.Chart(
        key="sample",
        title="Sample <chart>",
        description="Two series & three labels.",
        kind=kind,
        labels=["Jan", "Feb", "<Mar>"],
        series=[
            charts.Series("Gross", [Decimal("100.50"), Decimal("0"), Decimal("1234.5")], charts.NAVY),
            charts.Series("Fee", [Decimal("10"), None, Decimal("99.99")], charts.SKY),
        ],
        x_label="Month",
        y_label="Amount",
        value_format="money",
        **kw,
    )


def parse(chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))  # noqa: S314  (our own markup) also proves every label was escaped into well-formed XML


def test_svg_is_accessible_with_title_desc_axes_and_legend():
    root = parse(sample())
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id and root.find(f"{SVG}title").text == "Sample <chart>"
    assert root.find(f"{SVG}desc").get("id") == desc_id
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Month", "Amount", "Gross", "Fee", "<Mar>", "$0"} <= set(texts)
    gridlines = [line for line in root.iter(f"{SVG}line")]
    assert len(gridlines) >= 3


def test_every_bar_has_a_value_tooltip():
    root = parse(sample())
    tips = [r.find(f"{SVG}title").text for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(tips) == 6
    assert "Jan · Gross: $100.50" in tips and "<Mar> · Gross: $1,234.50" in tips and "Feb · Fee: —" in tips


def test_line_chart_marks_points_and_breaks_at_missing_values():
    root = parse(sample("line"))
    points = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle")]
    assert len(points) == 5 and "<Mar> · Fee: $99.99" in points
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 1  # Gross: one line over three points; Fee: two single points, no bridge over the gap


def test_bar_heights_follow_the_values():
    chart = charts.Chart(
        key="h", title="t", description="d", kind="bar", labels=["a", "b"], series=[charts.Series("n", [1, 4])]
    )
    root = parse(chart)
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert heights[1] == pytest.approx(4 * heights[0])


@pytest.mark.parametrize(
    "peak, integer, expected",
    [
        (0, False, (1.0, 0.25)),
        (1, True, (4, 1)),
        (7, True, (8, 2)),
        (1234.5, False, (1500, 500)),
        (99, False, (100, 25)),
    ],
)
def test_nice_scale(peak, integer, expected):
    assert charts.nice_scale(peak, integer=integer) == expected


def test_empty_chart_says_so():
    chart = charts.Chart(
        key="e", title="t", description="d", kind="line", labels=["a"], series=[charts.Series("n", [0])]
    )
    assert "No data for this period" in str(chart.svg)


@pytest.mark.parametrize(
    "moment, grouping, expected",
    [
        (datetime(2026, 3, 1, 23, 59), "week", "2026-02-23"),  # a Sunday belongs to the week starting Monday 23 Feb
        (datetime(2026, 3, 2, 0, 1), "week", "2026-03-02"),  # a Monday starts its own week
        (datetime(2026, 3, 31, 12), "month", "2026-03-01"),
    ],
)
def test_sql_bucketing_matches_python_on_this_database(app, moment, grouping, expected):
    import sqlalchemy as sa

    value = db.session.scalar(sa.select(analytics.bucket(sa.literal(moment, sa.DateTime), grouping)))
    assert str(value)[:10] == expected == analytics.bucket_start(moment.date(), grouping).isoformat()


def test_analytics_series_on_the_fixed_data_set(app):
    report_data.build()
    rng = analytics.Range(date(2026, 1, 1), date(2026, 3, 31), "month")
    volume = analytics.lead_volume(rng)
    assert volume.labels == ("Jan 2026", "Feb 2026", "Mar 2026")  # charts hold tuples: they are cache keys
    assert [s.values for s in volume.series] == [(1, 1, 1), (1, 2, 2)]  # created (unwon) leads; live wins
    rate = analytics.win_rate(rng)
    assert rate.series[0].values == (50.0, 100.0, 100.0)
    revenue = analytics.revenue(rng)
    assert revenue.series[1].values == (Decimal("100.00"), Decimal("130.00"), Decimal("71.67"))
    top = analytics.top_partners(rng)
    assert top.labels == ("Ødegaard & Co.", "Beta Ltd")
    assert top.series[0].values == (Decimal("17300.00"), Decimal("8000.00"))
    assert dict(top.extra_columns)["Win rate"] == ("80.0 %", "100.0 %")


def test_range_defaults_and_guards():
    rng = analytics.range_from_args({}, today=date(2026, 11, 21))
    assert (rng.date_from, rng.date_to, rng.grouping) == (date(2025, 12, 1), date(2026, 11, 21), "month")
    long_weeks = analytics.range_from_args({"date_from": "2020-01-01", "date_to": "2026-01-01", "group": "week"})
    assert long_weeks.grouping == "month"
    assert analytics.range_from_args(
        {"date_from": "2026-05-01", "date_to": "2026-01-01", "group": "x"}
    ).date_from == date(2026, 1, 1)


@pytest.fixture
def boss_client(app, client):
    report_data.build()
    boss = factories.make_user("super_admin")
    db.session.commit()
    return login(client, boss)


def test_analytics_page_and_htmx_partial(boss_client):
    page = boss_client.get("/super/analytics?date_from=2026-01-01&date_to=2026-03-31&group=month")
    html = page.get_data(as_text=True)
    for title in (
        "Lead volume",
        "Win rate",
        "Top-performing channel partners",
        "Category performance",
        "Revenue trends",
    ):
        assert f">{title}</title>" in html
    assert html.count("<details") == 5 and html.count('role="img"') == 5
    partial = boss_client.get("/super/analytics?group=week", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and 'id="analytics-charts"' in partial and "_week" in partial


def test_the_analytics_page_follows_the_data_it_was_drawn_from(boss_client):
    """Charts are drawn once per data (memoized on the immutable chart): the same data draws the same markup
    without drawing it again, and a new won deal shows at once in the chart and its data table."""
    assert sample().svg is sample().svg  # equal charts, one drawing
    assert sample().svg != sample(currency="€").svg
    path = "/super/analytics?date_from=2026-01-01&date_to=2026-03-31&group=month"
    before = boss_client.get(path).get_data(as_text=True)
    assert "$30,300.00" not in before
    partner = factories.make_partner(company="Late Closer")
    factories.make_lead(
        partner, title="Big one", kanban_stage="won", lead_value="30300", created_at=datetime(2026, 2, 3)
    )
    db.session.commit()
    after = boss_client.get(path).get_data(as_text=True)
    top = after[after.index('id="chart-top-partners"') :]
    assert "Late Closer" in top[: top.index("</figure>")] and "$30,300.00" in top[: top.index("</figure>")]


def test_chart_svg_download_and_analytics_pdf(boss_client):
    response = boss_client.get("/super/analytics/charts/revenue.svg?date_from=2026-01-01&date_to=2026-03-31")
    assert response.mimetype == "image/svg+xml" and "attachment" in response.headers["Content-Disposition"]
    root = ET.fromstring(response.data)  # noqa: S314  (our own markup)
    assert root.find(f"{SVG}title").text == "Revenue trends"
    assert boss_client.get("/super/analytics/charts/nope.svg").status_code == 404
    pdf = boss_client.get("/super/analytics/export.pdf?date_from=2026-01-01&date_to=2026-03-31&group=month")
    assert pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Platform analytics" in text and "2026-01-01 to 2026-03-31, by month" in text
    assert "Revenue trends" in text and "Ødegaard" in text and "Page 1 of" in text
