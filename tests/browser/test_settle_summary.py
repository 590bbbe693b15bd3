"""The admin ticks platform fees: the running "N selected, $X" beside the button follows every tick (the server's
figures), and the confirmation step repeats the total before the batch is settled."""

import re

from playwright.sync_api import expect

from app.extensions import db
from tests import factories
from tests.fee_support import won
from tests.storage_support import pdf_bytes


def test_the_running_summary_follows_the_ticks_and_the_confirmation_repeats_it(new_page, tmp_path):
    factories.make_fee_config("percentage", "10")
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Summary Co")
    t1, _t2, _t3 = (
        won(partner, admin, commission=c, title=f"Summary deal {n}") for n, c in enumerate(("1000", "250", "333.33"))
    )
    db.session.commit()
    slip = tmp_path / "fees-slip.pdf"
    slip.write_bytes(pdf_bytes())

    page = new_page(admin)
    page.goto("/admin/platform-fees")
    summary = page.locator("#settle-summary")
    expect(summary).to_have_text("0 selected, $0.00")
    page.get_by_label("Settle the fee of Summary deal 0").check()
    expect(summary).to_have_text("1 selected, $100.00")
    page.get_by_label("Settle the fee of Summary deal 2").check()
    expect(summary).to_have_text("2 selected, $133.33")
    page.get_by_label("Settle the fee of Summary deal 0").uncheck()
    expect(summary).to_have_text("1 selected, $33.33")
    page.get_by_label("Settle the fee of Summary deal 1").check()
    expect(summary).to_have_text("2 selected, $58.33")
    # The button sits beside the summary, in view without scrolling to the end of the list.
    button = page.get_by_role("button", name="Review and settle")
    assert button.bounding_box()["y"] < page.locator(f"#fee-{t1.id}").bounding_box()["y"]

    button.click()
    expect(page.locator("#settle-confirmation")).to_contain_text("You are about to settle $58.33 for 2 fees")
    page.get_by_label("Bank slip").set_input_files(str(slip))
    page.get_by_role("button", name="Settle $58.33 for 2 fees").click()
    expect(page.get_by_role("heading", name="Platform fee settlement")).to_be_visible()
    expect(page.locator("body")).to_contain_text(re.compile(r"Settled \$58\.33 platform fee covering 2 leads"))
