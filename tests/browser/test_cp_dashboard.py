"""The partner dashboard's range selector and goal form swap the performance section in place (HTMX)."""

from datetime import date

from app.extensions import db
from tests import factories
from tests.report_data import _won


def _partner_page(new_page):
    admin = factories.make_user("admin")
    factories.make_fee_config("percentage", "10")
    partner = factories.make_partner(company="Alpha Partners")
    category = factories.make_category("Solar")
    _won(partner, admin, "October deal", "5000", "500", date(2026, 10, 12), category)
    _won(partner, admin, "November deal", "2005", "200.50", date(2026, 11, 3), category)
    db.session.commit()
    page = new_page(partner.user)
    page.goto("/cp/")
    page.evaluate("window.__sameDocument = true")
    return page


def test_custom_months_update_the_figures_without_a_reload(new_page):
    page = _partner_page(new_page)
    page.get_by_label("Period").select_option("custom")
    page.get_by_label("First month").fill("2026-11")
    page.get_by_label("Last month").fill("2026-10")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("#range-to-error")  # the 422 answer is swapped in, the error beside the field
    assert "cannot be before the first" in page.locator("#range-to-error").inner_text()

    page.get_by_label("Last month").fill("2026-11")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("#cp-performance[data-range='2026-11-01_2026-11-01']")
    assert page.locator("[data-figure='commission_month']").inner_text() == "$200.50"
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert "range=custom" in page.url and "date_from=2026-11" in page.url

    page.get_by_label("Goal amount (gross commission)").fill("400")
    page.get_by_role("button", name="Save goal").click()
    page.wait_for_selector("[data-goal='percent']")
    assert page.locator("[data-goal='percent']").inner_text().startswith("50 %")
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
