"""The bell updates live: a CP's open page changes when an admin acts in another session, no reload."""

import re

from playwright.sync_api import expect

from app.comms import notifications
from app.extensions import db
from tests import factories


def test_cp_badge_changes_when_an_admin_sends_an_announcement(new_page):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Live Partner")
    db.session.commit()
    cp_page = new_page(partner.user)
    badge = cp_page.locator("#notification-badge")
    expect(badge).to_have_attribute("data-count", "0")
    expect(badge).to_be_hidden()
    cp_page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    admin_page = new_page(admin)
    admin_page.goto("/admin/announcements/new")
    admin_page.get_by_label("Title").fill("Price list 2026")
    admin_page.get_by_label("Message").fill("The new **price list** is out.")
    admin_page.get_by_role("button", name="Send now").click()
    expect(admin_page.get_by_role("heading", name="Price list 2026")).to_be_visible()

    expect(badge).to_have_attribute("data-count", "1", timeout=5_000)
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("1")
    expect(cp_page.locator("#live-region")).to_contain_text("New notification: Price list 2026.")
    assert cp_page.evaluate("window.__sameDocument") is True

    cp_page.locator("#notification-bell").click()  # the dropdown lists it; opening it reads it
    cp_page.locator("#notification-menu").get_by_role("button", name=re.compile("Price list 2026")).click()
    expect(cp_page.get_by_role("heading", name="Price list 2026")).to_be_visible()
    expect(cp_page.locator("#notification-badge")).to_have_attribute("data-count", "0")
    expect(cp_page.locator(".announcement-body strong")).to_have_text("price list")


def test_without_websockets_the_badge_still_refreshes_by_polling(new_page):
    partner = factories.make_partner(company="Polling Partner")
    db.session.commit()
    page = new_page()
    page.add_init_script("window.WebSocket = function () { throw new Error('blocked by a proxy'); };")
    page.goto("/auth/login")
    page.get_by_label("Email").fill(partner.user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    badge = page.locator("#notification-badge")
    expect(badge).to_have_attribute("data-count", "0")
    page.evaluate("window.__sameDocument = true")

    notifications.notify([partner.user], "lead_assigned", email=False, title="Polled lead", link="/cp/")
    db.session.commit()
    expect(badge).to_have_attribute("data-count", "1", timeout=25_000)  # within one 15 s polling period
    assert page.evaluate("window.__sameDocument") is True
