"""An admin enrols in MFA in a real browser by reading the key under the QR code, then logs in with a code."""

import re

import pyotp
import pytest

from app.accounts import mfa
from app.extensions import db
from tests import factories


class Clock:
    """The server's TOTP time (the live server runs in this process), moved on by hand instead of waiting 30 s."""

    def __init__(self):
        self.now = 1_900_000_005.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fixed = Clock()
    monkeypatch.setattr(mfa, "clock", fixed)
    return fixed


def test_admin_enrols_by_reading_the_key_and_logs_in_with_a_code(new_page, app, clock, monkeypatch):
    monkeypatch.setitem(app.config, "MFA_REQUIRED_FOR_STAFF", True)  # as in production
    admin = factories.make_user("admin", name="Alex Admin")
    db.session.commit()

    page = new_page(admin)  # password only: the role requires MFA, so every page leads to the security page
    assert page.url.endswith("/account/security")
    assert page.get_by_text("Your role requires two-factor authentication").first.is_visible()
    page.goto("/admin/partners")
    assert page.url.endswith("/account/security")

    page.get_by_role("button", name="Set up two-factor authentication").click()
    page.wait_for_url("**/account/security")
    qr = page.locator("svg.mfa-qr")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 150
    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    phone = pyotp.TOTP(secret)

    page.get_by_label("Code from your authenticator app").fill(phone.at(clock.now))
    page.get_by_role("button", name="Turn on").click()
    codes = page.locator("#recovery-codes li")
    codes.first.wait_for()
    assert codes.count() == 10
    assert page.get_by_text("Save these recovery codes now.").is_visible()

    page.goto("/admin/partners")  # enrolled: the portal opens
    assert page.url.endswith("/admin/partners")

    page.locator("#user-menu").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/auth/login")

    clock.now += 30  # the next code the phone shows
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/auth/mfa")
    page.get_by_label("Authentication code").fill(phone.at(clock.now))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/admin/")
    assert page.get_by_role("navigation").get_by_role("link", name="Dashboard").is_visible()

    page.locator("#user-menu").click()
    page.get_by_role("link", name="Security & sessions").click()
    page.wait_for_url("**/account/security")
    assert page.locator("#sessions-card").get_by_text("This device").is_visible()
