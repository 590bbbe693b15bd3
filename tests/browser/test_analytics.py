"""Analytics charts update in place when the date range changes; the report CSV downloads."""

import csv
import io

from app.extensions import db
from tests import factories, report_data


def _super_page(new_page):
    report_data.build()
    boss = factories.make_user("super_admin")
    db.session.commit()
    return new_page(boss)


def test_changing_the_range_updates_the_charts_without_a_reload(new_page):
    page = _super_page(new_page)
    page.goto("/super/analytics?date_from=2026-01-01&date_to=2026-03-31&group=month")
    volume = page.locator("#chart-lead-volume svg")
    assert volume.get_attribute("role") == "img"
    assert volume.locator("title").first.text_content() == "Lead volume"
    assert "Jan 2026" in page.locator("#chart-lead-volume").inner_text()
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Group by").select_option("week")
    page.wait_for_selector("#analytics-charts[data-range='2026-01-01_2026-03-31_week']")
    assert "29 Dec 2025" in page.locator("#chart-lead-volume").inner_text()  # the Monday of 1 Jan's week
    page.get_by_label("From").fill("2026-02-01")
    page.get_by_label("From").dispatch_event("change")
    page.wait_for_selector("#analytics-charts[data-range='2026-02-01_2026-03-31_week']")

    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert "group=week" in page.url and "date_from=2026-02-01" in page.url
    revenue = page.locator("#chart-revenue")
    revenue.get_by_text("Data table").click()
    table = revenue.locator("table")
    assert table.is_visible()
    assert "23 Feb 2026\t$800.00\t$80.00\t$720.00" in table.inner_text()  # Beta big deal, won 25 Feb


def test_download_the_report_csv(new_page):
    page = _super_page(new_page)
    page.goto("/super/reports")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("commission-report-")
    with open(download.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert len(rows) == 10
    acme = next(r for r in rows if r["Lead"] == "Acme rollout")
    assert (acme["Gross commission"], acme["Platform fee"], acme["Net CP payment"]) == ("1000.00", "100.00", "900.00")
