"""The public request form in a real browser: errors beside the fields (422 swapped in by htmx), then the
"check your email" answer in place of the form; the honeypot is out of sight."""

import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Lead
from tests import factories


def test_public_form_shows_errors_then_check_your_email(page):
    category = factories.make_category("Garden Design", description="Gardens for homes and offices.")
    db.session.commit()
    page.goto("/request")
    page.get_by_role("link", name="Garden Design").click()
    expect(page.get_by_role("heading", name="Garden Design")).to_be_visible()
    box = page.locator("input[name=website]").bounding_box()
    assert box["x"] + box["width"] <= 0  # the honeypot is off screen

    page.get_by_label("First name (required)").fill("Rosa")
    page.get_by_role("button", name="Send my request").click()
    expect(page.locator("#last_name-error")).to_have_text("Last name is required.")
    expect(page.locator("#contact_email-error")).to_contain_text("Your email is required")
    expect(page.get_by_label("First name (required)")).to_have_value("Rosa")  # what was typed is kept
    assert page.url.endswith(f"/request/{category.slug}")

    page.get_by_label("Last name (required)").fill("Diaz")
    page.get_by_label("Email (required)").fill("rosa.diaz@example.com")
    page.get_by_label("Budget").select_option("5k_25k")
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.locator("#request-sent")).to_contain_text("rosa.diaz@example.com")
    db.session.expire_all()
    lead = db.session.scalar(sa.select(Lead))
    assert (lead.first_name, lead.budget, lead.intake_status) == ("Rosa", "5k_25k", "pending_confirmation")
