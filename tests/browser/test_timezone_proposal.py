"""/account/timezone proposes the browser's own zone until one is saved; saving it shows times in that zone."""

import re

from playwright.sync_api import expect

from app.extensions import db
from tests import factories


def test_the_picker_proposes_the_browser_zone_and_saving_it_applies_it(browser, live_server):
    user = factories.make_user("admin")
    db.session.commit()
    context = browser.new_context(base_url=live_server, timezone_id="Europe/Paris")
    try:
        page = context.new_page()
        page.goto("/auth/login")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("networkidle")
        page.goto("/account/timezone")
        expect(page.get_by_label("Show times in")).to_have_value("Europe/Paris")
        expect(page.locator("#browser-zone-note")).to_contain_text("Proposed from this device: Europe/Paris")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("times are now shown in Europe/Paris")
        expect(page.locator("#timezone-now")).to_contain_text(re.compile(r"CES?T"))  # winter or summer
        expect(page.locator("#browser-zone-note")).to_be_hidden()  # a saved zone is not proposed over
    finally:
        context.close()
