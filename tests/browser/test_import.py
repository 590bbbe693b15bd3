"""The import in a browser: upload a CSV, see the auto-matched mapping and the preview with an invalid row,
change a column (the preview refreshes), start, and watch the progress bar reach 100 % with the counts."""

import re

from playwright.sync_api import expect

from app.extensions import db
from tests import factories

CSV = (
    "First Name,Surname,E-mail,Notes\n"
    "Ada,Lovelace,ada@example.com,Wants a quote\n"
    "Bad,Row,not-an-email,\n"
    "Grace,Hopper,grace@example.com,\n"
)


def test_upload_map_preview_start_and_watch_the_progress(new_page, tmp_path):
    admin = factories.make_user("admin")
    factories.make_category("Browser imports")
    db.session.commit()
    page = new_page(admin)
    path = tmp_path / "leads.csv"
    path.write_text(CSV)

    page.goto("/admin/imports")
    page.get_by_label("File (CSV or XLSX, up to 20 MB)").set_input_files(str(path))
    page.get_by_label("Category of the leads").select_option(label="Browser imports")
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", name="Map the columns of leads.csv")).to_be_visible()
    expect(page.get_by_label("First Name")).to_have_value("first_name")
    expect(page.get_by_label("Surname")).to_have_value("last_name")
    expect(page.get_by_label("E-mail")).to_have_value("contact_email")
    invalid = page.locator('#import-preview tr[data-status="invalid"]')
    expect(invalid).to_have_count(1)
    expect(invalid).to_contain_text("not-an-email")
    expect(page.locator('#import-preview tr[data-status="valid"]')).to_have_count(2)

    page.get_by_label("Notes").select_option("")  # the preview refreshes (HTMX) and still shows the rows
    expect(page.locator('#import-preview tr[data-status="valid"]')).to_have_count(2)
    page.get_by_label("Notes").select_option("description")

    page.get_by_role("button", name="Start import").click()
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", "done", timeout=15_000)
    expect(page.locator("progress#import-bar")).to_have_attribute("value", "100")
    expect(page.locator("#count-created")).to_have_text("2")
    expect(page.locator("#count-rejected")).to_have_text("1")
    expect(page.get_by_role("link", name=re.compile("Download rejected rows"))).to_be_visible()
