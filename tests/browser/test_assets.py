"""The asset library end to end in a browser: an admin uploads a flyer through the form, a partner filters the grid
(swapped by HTMX, the address kept in step) and downloads the file and its co-branded PDF."""

import io
from pathlib import Path

from pypdf import PdfReader

from app.extensions import db
from app.models.assets import MarketingAsset
from tests import factories
from tests.storage_support import png_bytes


def test_an_admin_publishes_a_flyer_and_a_partner_filters_and_downloads_it(new_page, app, tmp_path):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Northwind Solar")
    category = factories.make_category("Solar")
    db.session.commit()
    flyer = tmp_path / "spring-flyer.png"
    flyer.write_bytes(png_bytes(size=(300, 420)))

    staff = new_page(admin)
    staff.goto("/admin/assets")
    staff.get_by_label("Title").fill("Spring flyer")
    staff.get_by_label("Type", exact=True).select_option("flyer")
    staff.get_by_label("Category (optional)").select_option(label="Solar")
    staff.get_by_label("File").set_input_files(str(flyer))
    staff.get_by_role("button", name="Publish the asset").click()
    staff.wait_for_url("**/admin/assets/*")
    assert "is published" in staff.content()
    asset = db.session.query(MarketingAsset).filter_by(title="Spring flyer").one()
    assert asset.category_id == category.id

    cp = new_page(partner.user)
    cp.goto("/cp/assets")
    assert cp.locator(f"[data-asset='{asset.id}']").is_visible()
    cp.evaluate("window.__notReloaded = true")
    cp.get_by_label("Type").select_option("logo")
    cp.wait_for_url("**/cp/assets?*type=logo*")
    cp.get_by_text("No assets match these filters yet.").wait_for()
    assert cp.evaluate("window.__notReloaded") is True  # the grid was swapped, not the page reloaded
    cp.get_by_label("Type").select_option("flyer")
    card = cp.locator(f"[data-asset='{asset.id}']")
    card.wait_for()

    with cp.expect_download() as plain:
        card.get_by_role("link", name="Download PNG").click()
    assert plain.value.suggested_filename == "spring-flyer.png"
    with cp.expect_download() as branded:
        card.get_by_role("link", name="Co-branded PDF").click()
    text = PdfReader(io.BytesIO(Path(branded.value.path()).read_bytes())).pages[0].extract_text()
    assert "Northwind Solar" in text
    db.session.expire_all()
    assert db.session.get(MarketingAsset, asset.id).download_count == 2
