"""Direct uploads in a real browser: with S3 configured (moto's server, CORS set for the app's origin, CSRF on),
a chosen file goes from Chromium straight to the bucket; the form then posts only the file's id."""

import threading
import uuid

import boto3
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app.extensions import db
from app.models import LeadEvidence, StoredFile, User
from tests import factories
from tests.conftest import make_app
from tests.storage_support import (
    BUCKET,
    backend_config,
    pdf_bytes,
    png_bytes,
    s3_endpoint,  # noqa: F401  (fixture)
    stored_keys,
)

AVATAR_LABEL = "Avatar (JPEG, PNG or WebP)"
EVIDENCE_LABEL = "Evidence file (image, PDF or document)"


@pytest.fixture(scope="module")
def s3_live(app, s3_endpoint):  # noqa: F811  (the fixture imported above)
    """The app configured for S3 at moto, CSRF on, served on a free port; the bucket allows its origin (CORS)."""
    s3_app = make_app(**backend_config("s3", s3_endpoint), WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, s3_app, threaded=True)
    origin = f"http://127.0.0.1:{server.server_port}"
    s3_app.config["PUBLIC_BASE_URL"] = origin
    bucket = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    rule = {"AllowedOrigins": [origin], "AllowedMethods": ["POST", "GET", "HEAD"], "AllowedHeaders": ["*"]}
    bucket.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [rule]})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield s3_app, origin
    server.shutdown()
    bucket.delete_bucket_cors(Bucket=BUCKET)
    with s3_app.app_context():
        db.engine.dispose()


@pytest.fixture
def s3_page(browser, s3_live):
    _s3_app, origin = s3_live
    contexts = []

    def _page(user):
        context = browser.new_context(base_url=origin, viewport={"width": 1280, "height": 860})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/auth/login")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("networkidle")
        return page

    yield _page
    for context in contexts:
        context.close()


def _bucket_keys(s3_live) -> set[str]:
    return stored_keys(s3_live[0])


def _stored(file_id: str) -> StoredFile | None:
    db.session.expire_all()
    return db.session.get(StoredFile, uuid.UUID(file_id))


def test_an_avatar_goes_to_s3_from_the_browser_and_the_form_posts_only_its_id(s3_page, s3_live, tmp_path):
    user = factories.make_user("admin")
    db.session.commit()
    picture = tmp_path / "me.png"
    picture.write_bytes(png_bytes(size=(64, 64)))
    page = s3_page(user)
    page.goto("/account")
    assert page.locator("body").get_attribute("data-direct-upload") == "/files/presign"
    bucket_posts = []
    endpoint = s3_live[0].config["S3_ENDPOINT_URL"]
    page.on(
        "request", lambda r: bucket_posts.append(r.url) if r.method == "POST" and r.url.startswith(endpoint) else None
    )

    page.get_by_label(AVATAR_LABEL).set_input_files(str(picture))
    expect(page.locator("#avatar-upload-status")).to_have_text("Uploaded me.png.")
    file_id = page.locator("input[type=hidden][name=avatar__file_id]").input_value()
    assert page.get_by_label(AVATAR_LABEL).evaluate("input => input.files.length") == 0  # cleared: no bytes to resend
    stored = _stored(file_id)
    assert stored.is_ready and stored.kind == "avatar" and stored.storage_key in _bucket_keys(s3_live)
    assert bucket_posts == [f"{endpoint}/{BUCKET}"]  # the bytes went from the browser to the bucket

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/account")) as submitted:
        page.get_by_role("button", name="Upload avatar").click()
    body = submitted.value.post_data_buffer
    assert f'name="avatar__file_id"\r\n\r\n{file_id}'.encode() in body
    assert png_bytes(size=(64, 64)) not in body and b"\x89PNG" not in body  # the app never got the bytes
    expect(page.get_by_text("Avatar updated.")).to_be_visible()
    avatar = page.locator("#avatar-card img.avatar")
    expect(avatar).to_have_attribute("src", f"/files/{file_id}")
    page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=avatar.element_handle())
    db.session.expire_all()
    assert str(db.session.get(User, user.id).avatar_file_id) == file_id


@pytest.fixture
def partner_with_lead():
    partner = factories.make_partner(company="Northwind")
    lead = factories.make_lead(assignee=partner, title="Rooftop array")
    db.session.commit()
    return partner, lead


def _open_panel(page, lead):
    """The slide-over is swapped in by HTMX after the page loaded: its form was not there at first."""
    page.goto("/cp/leads/assigned/kanban")
    assert page.get_by_label(EVIDENCE_LABEL).count() == 0
    page.locator(f"#card-{lead.id} .kanban-card-title").click()
    panel = page.locator("#lead-panel")
    panel.locator(".lead-panel-title", has_text="Rooftop array").wait_for()
    return panel


def test_evidence_in_an_htmx_slide_over_uploads_directly_and_is_listed(s3_page, s3_live, partner_with_lead, tmp_path):
    partner, lead = partner_with_lead
    quote = tmp_path / "Signed quote.pdf"
    quote.write_bytes(pdf_bytes())
    page = s3_page(partner.user)
    panel = _open_panel(page, lead)
    submit = panel.get_by_role("button", name="Upload evidence")

    held = []
    page.route("**/files/*/confirm", lambda route: held.append(route))
    panel.get_by_label(EVIDENCE_LABEL).set_input_files(str(quote))
    expect(submit).to_be_disabled()  # no submitting while the file is on its way
    expect(panel.locator("[data-upload-status]")).to_contain_text("Uploading Signed quote.pdf")
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    page.unroute("**/files/*/confirm")
    expect(panel.locator("[data-upload-status]")).to_have_text("Uploaded Signed quote.pdf.")
    expect(submit).to_be_enabled()

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(f"/cp/leads/{lead.id}/evidence")) as sent:
        submit.click()
    body = sent.value.post_data_buffer
    assert b"-file__file_id" in body and b"%PDF-1.4" not in body
    expect(page.locator("#lead-panel .evidence-gallery")).to_contain_text("Signed quote.pdf")
    db.session.expire_all()
    evidence = db.session.scalars(sa.select(LeadEvidence).where(LeadEvidence.lead_id == lead.id)).one()
    assert evidence.file.storage_key in _bucket_keys(s3_live) and evidence.file.original_name == "Signed quote.pdf"


def test_a_file_whose_content_lies_is_refused_beside_the_field(s3_page, s3_live, partner_with_lead, tmp_path):
    partner, lead = partner_with_lead
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    page = s3_page(partner.user)
    panel = _open_panel(page, lead)
    keys_before = _bucket_keys(s3_live)

    field = panel.get_by_label(EVIDENCE_LABEL)
    field.set_input_files(str(fake))
    status = panel.locator("[data-upload-status]")
    expect(status).to_have_text("The file's content does not match its .png extension.")
    expect(status).to_have_class("form-text text-danger")
    expect(field).to_have_attribute("aria-describedby", status.get_attribute("id"))
    assert field.evaluate("input => input.files.length") == 0
    assert panel.locator("input[type=hidden][name$='__file_id']").count() == 0
    expect(panel.get_by_role("button", name="Upload evidence")).to_be_enabled()
    assert _bucket_keys(s3_live) == keys_before  # the confirm step removed the object
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(StoredFile.id)).where(StoredFile.kind == "evidence")) == 0
