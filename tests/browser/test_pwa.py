"""Installing the app and its themes, in Chromium (issue 20 item 3): the service worker shows the offline page when
the server cannot be reached and never answers a page with money from a cache; the theme follows the system
setting, and the switch in the user menu changes it at once and for good."""

import re

from playwright.sync_api import expect

from app.extensions import db
from tests import factories
from tests.world_parts.w30_commissions import won_transaction

WORKER_READY = "() => navigator.serviceWorker.controller !== null"


def _install(page, path: str) -> None:
    """Open `path` and wait until the service worker has installed (the shell cached) and controls the page."""
    page.goto(path)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function(WORKER_READY)


def _cached_urls(page) -> list[str]:
    return page.evaluate(
        """async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
            }
            return urls;
        }"""
    )


def test_the_offline_page_appears_when_the_server_is_unreachable(new_page):
    partner = factories.make_partner()
    db.session.commit()
    page = new_page(partner.user)
    _install(page, "/cp/")
    offline = page.get_by_role("heading", name="You are offline")
    page.context.set_offline(True)
    try:
        page.goto("/cp/leads")
        expect(offline).to_be_visible()
        assert page.url.endswith("/cp/leads")  # shown in place of the page that failed
    finally:
        page.context.set_offline(False)
    # Back online, "Try again" opens the page that failed.
    page.get_by_role("link", name="Try again").click()
    expect(offline).to_have_count(0)
    assert page.url.endswith("/cp/leads")

    # A boosted link of the sidebar is an htmx request, not a navigation: it lands on the offline page too.
    page.wait_for_function(WORKER_READY)
    page.context.set_offline(True)
    try:
        page.locator("#sidebar").get_by_role("link", name="Dashboard").click()
        expect(offline).to_be_visible()
        assert page.url.endswith("/cp/")
    finally:
        page.context.set_offline(False)


def test_a_page_with_money_is_never_served_from_the_cache(new_page):
    admin = factories.make_user("admin")
    factories.make_fee_config("percentage", "10")
    partner = factories.make_partner(company="Northwind Solutions")
    won_transaction(partner, admin, "Acme HQ solar", "due")
    db.session.commit()
    page = new_page(partner.user)
    _install(page, "/cp/commissions")
    page.reload()  # seen twice while online, controlled by the worker: had it cached pages, it would have this one
    expect(page.get_by_text("$900.00").first).to_be_visible()
    cached = _cached_urls(page)
    assert "/static/css/bootstrap.min.css" in cached and "/offline" in cached
    assert [url for url in cached if not url.startswith("/static/") and url != "/offline"] == []

    page.context.set_offline(True)
    try:
        page.goto("/cp/commissions")
        expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
        expect(page.get_by_text("$900.00")).to_have_count(0)
        expect(page.locator("link[href='/static/css/bootstrap.min.css']")).to_have_count(1)
        # The shell came from the cache: the offline page is styled (Bootstrap's button), not bare HTML.
        colour = page.get_by_role("link", name="Try again").evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour not in ("rgba(0, 0, 0, 0)", "transparent")
    finally:
        page.context.set_offline(False)


def _theme(page) -> str:
    return page.evaluate("() => document.documentElement.getAttribute('data-bs-theme')")


def _background(page) -> tuple[int, ...]:
    colour = page.evaluate("() => getComputedStyle(document.querySelector('.card, main, body')).backgroundColor")
    return tuple(int(part) for part in re.findall(r"\d+", colour)[:3])


def test_the_theme_follows_the_system_setting(new_page):
    user = factories.make_user("admin")  # "auto": never chose
    db.session.commit()
    page = new_page()
    page.emulate_media(color_scheme="dark")
    page.goto("/auth/login")
    assert _theme(page) == "dark" and max(_background(page)) < 80
    page.emulate_media(color_scheme="light")  # the system changes while the page is open
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    assert min(_background(page)) > 200

    page = new_page(user)
    page.emulate_media(color_scheme="dark")
    page.goto("/admin/")
    assert _theme(page) == "dark" and max(_background(page)) < 80


def test_the_switch_changes_the_theme_at_once_and_remembers_it(new_page):
    partner = factories.make_partner()
    db.session.commit()
    page = new_page(partner.user)
    page.emulate_media(color_scheme="light")
    page.goto("/cp/")
    assert _theme(page) == "light"
    page.locator("#user-menu").click()
    dark = page.locator("[data-theme-switch]").get_by_role("button", name="Dark")
    dark.click()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")  # no reload: the htmx answer applied
    # (the menu has closed: the buttons are found by value, hidden ones included)
    expect(page.locator("[data-theme-switch] button[value=dark]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-theme-switch] button[value=light]")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#live-region")).to_have_text("Theme: Dark.")
    assert max(_background(page)) < 80

    other = new_page(partner.user)  # another browser, still a light system: the choice is the person's
    other.emulate_media(color_scheme="light")
    other.goto("/cp/")
    assert _theme(other) == "dark"
    other.locator("#user-menu").click()
    other.locator("[data-theme-switch]").get_by_role("button", name="System").click()
    expect(other.locator("html")).to_have_attribute("data-bs-theme", "light")
    other.reload()
    assert _theme(other) == "light"
