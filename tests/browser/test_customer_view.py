"""The customer view in a real browser: the sidebar hides on entering, the hamburger reopens it, and a
lead submitted from a category shows up in the partner's originated leads."""

import re

from playwright.sync_api import expect

from app.extensions import db
from app.files import storage
from app.models import CategoryImage
from tests import factories
from tests.storage_support import png_bytes


def _sidebar_hidden(page) -> bool:
    box = page.locator("#sidebar").bounding_box()
    return box is None or box["x"] + box["width"] <= 1


def test_customer_view_hides_sidebar_and_hamburger_reopens_it(new_page):
    partner = factories.make_partner(company="Northwind Solutions")
    category = factories.make_category("Solar & Energy", description="Rooftop solar for offices.")
    image = storage.save_bytes(png_bytes((320, 240)), "category_image", "roof.png", "image/png")
    db.session.add(CategoryImage(category_id=category.id, file_id=image.id))
    db.session.commit()
    page = new_page(partner.user)
    assert not _sidebar_hidden(page)  # the dashboard shows the sidebar

    page.locator("#sidebar").get_by_role("link", name="Categories").click()  # a boosted link
    expect(page.get_by_role("heading", name="Solar & Energy")).to_be_visible()
    expect(page.locator("body")).to_have_class(re.compile(r"\bsidebar-collapsed\b"))
    page.wait_for_timeout(300)  # the slide-out transition
    assert _sidebar_hidden(page)
    cover = page.locator(".showcase-cover").first
    assert cover.evaluate("img => img.complete && img.naturalWidth > 0")  # the image came through /files/

    page.get_by_role("button", name="Navigation", exact=True).click()
    page.wait_for_timeout(300)
    assert not _sidebar_hidden(page)

    page.goto("/cp/categories")  # a direct load hides it too
    page.wait_for_timeout(300)
    assert _sidebar_hidden(page)


def test_lead_from_a_category_appears_in_originated_leads(new_page):
    partner = factories.make_partner(company="Blue Harbor")
    factories.make_user("admin")
    factories.make_category("Commercial Security", description="CCTV and access control.")
    db.session.commit()
    page = new_page(partner.user)
    page.goto("/cp/categories")
    page.get_by_role("link", name="Submit a lead").click()  # HTMX loads the form in place
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Lee")
    page.get_by_label("Email").fill("dana@leelogistics")  # not an address: the answer says so beside the field
    page.get_by_label("Company").fill("Lee Logistics")
    page.get_by_label("What is needed").fill("CCTV for three warehouses, a quote by May.")
    page.get_by_role("button", name="Submit lead").click()
    expect(page.locator("#contact_email-error")).to_contain_text("Enter an email address")
    page.get_by_label("Email").fill("dana@leelogistics.com")
    page.get_by_label("Phone").fill("+1 202 555 0199")
    page.get_by_label("Budget").select_option("25k_100k")
    page.get_by_role("button", name="Submit lead").click()
    expect(page.get_by_role("status")).to_contain_text("submitted")
    page.get_by_role("link", name="See your originated leads").click()
    row = page.get_by_role("row", name="Dana Lee · Lee Logistics")
    expect(row).to_contain_text("Commercial Security")
    expect(row).to_contain_text("Pending")
