"""An admin settles a commission in the browser (bank slip upload, HTMX swap); the CP sees it under Received."""

import re

from playwright.sync_api import expect

from app.extensions import db
from tests import factories
from tests.storage_support import pdf_bytes
from tests.world_parts.w30_commissions import won_transaction


def test_admin_settles_with_a_slip_and_the_cp_sees_it_under_received(new_page, tmp_path):
    admin = factories.make_user("admin")
    factories.make_fee_config("percentage", "10")
    partner = factories.make_partner(company="Northwind Solutions", bank_account_number="001234567890")
    tx = won_transaction(partner, admin, "Acme HQ solar", "due")
    db.session.commit()
    slip = tmp_path / "transfer-slip.pdf"
    slip.write_bytes(pdf_bytes())

    page = new_page(admin)
    page.goto(f"/admin/commissions/{tx.id}")
    expect(page.locator(".bank-details")).to_contain_text("001234567890")
    page.get_by_label("Bank slip").set_input_files(str(slip))
    page.get_by_label("Transfer reference (optional)").fill("TRF-2026-01")
    expect(page.get_by_label("Net commission")).to_have_value("900.00")
    page.get_by_role("button", name="Mark as settled").click()
    expect(page.get_by_role("status")).to_contain_text("Settled: the partner has been notified.")
    expect(page.locator(".settled-facts")).to_contain_text("transfer-slip.pdf")
    expect(page.locator("#tx-workspace h1 .status-badge")).to_have_text("Paid")
    assert page.url.endswith(f"/admin/commissions/{tx.id}")  # swapped in place, no reload

    cp_page = new_page(partner.user)
    cp_page.goto("/cp/commissions")
    expect(cp_page.locator('[data-total="Received"]')).to_have_text("$900.00")
    cp_page.get_by_role("link", name="Received").click()
    row = cp_page.get_by_role("row", name=re.compile("Acme HQ solar"))
    expect(row).to_contain_text("$900.00")
    row.get_by_role("link").click()
    expect(cp_page.locator("#payment-detail")).to_contain_text("transfer-slip.pdf")
    expect(cp_page.locator("#payment-detail")).to_contain_text("Bank transfer")
