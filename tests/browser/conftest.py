"""Browser tests: the app served on a free loopback port, driven by Playwright in Debian's Chromium."""

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser


def _chromium_missing() -> bool:
    return not os.path.exists(CHROMIUM)


@pytest.fixture(scope="session")
def live_server(app):
    """Serve the session's app (same database as the test) in a thread on 127.0.0.1."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app.config["PUBLIC_BASE_URL"]
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if _chromium_missing():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page() → a fresh browser context's page; new_page(user) → logged in as that user (password form)."""
    contexts = []

    def _new_page(user=None, password=None):
        from tests.factories import PASSWORD

        context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 860})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            page.goto("/auth/login")
            page.get_by_label("Email").fill(user.email)
            page.get_by_label("Password").fill(password or PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state("networkidle")
        return page

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def partner_with_lead():
    """An approved partner (Northwind, 10 % platform fee) with one lead in New: "Drag me", $10,000, $1,000 commission."""
    from app.extensions import db
    from tests import factories

    factories.make_fee_config("percentage", "10")
    partner = factories.make_partner(company="Northwind")
    lead = factories.make_lead(assignee=partner, title="Drag me", lead_value="10000", commission_amount="1000")
    db.session.commit()
    return partner, lead
