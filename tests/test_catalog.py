"""Admin categories, the content workflow, the customer view and leads submitted from it."""

import io

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Category, CategoryImage, CpCategoryContent, Lead, Notification, StoredFile
from tests import factories
from tests.conftest import login
from tests.storage_support import png_bytes

HX = {"HX-Request": "true"}


def _admin_client(app):
    admin = factories.make_user("admin")
    db.session.commit()
    return admin, login(app.test_client(), admin)


def _cp_client(app, **kw):
    partner = factories.make_partner(**kw)
    db.session.commit()
    return partner, login(app.test_client(), partner.user)


def test_admin_creates_edits_toggles_and_orders_categories(app):
    _admin, client = _admin_client(app)
    response = client.post("/admin/categories", data={"name": "Solar", "description": "Panels."})
    assert response.status_code == 302
    client.post("/admin/categories", data={"name": "Security", "description": "CCTV."})
    assert client.post("/admin/categories", data={"name": "solar"}).status_code == 422  # duplicate name
    assert client.post("/admin/categories", data={"name": ""}).status_code == 422
    solar = db.session.scalar(sa.select(Category).where(Category.name == "Solar"))
    edit = client.post(f"/admin/categories/{solar.id}", data={"name": "Solar & Energy", "description": "x"}, headers=HX)
    assert edit.status_code == 200 and "Solar &amp; Energy" in edit.get_data(as_text=True)
    toggled = client.post(f"/admin/categories/{solar.id}/toggle", headers=HX)
    assert "Publish" in toggled.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Category, solar.id).is_active is False
    client.post(f"/admin/categories/{solar.id}/move", data={"direction": "down"}, headers=HX)
    db.session.expire_all()
    names = [c.name for c in db.session.scalars(sa.select(Category).order_by(Category.sort_order))]
    assert names == ["Security", "Solar & Energy"]
    assert client.post(f"/admin/categories/{solar.id}/move", data={"direction": "sideways"}).status_code == 422


def test_a_category_used_by_a_lead_cannot_be_deleted(app):
    _admin, client = _admin_client(app)
    used, unused = factories.make_category("Used"), factories.make_category("Unused")
    factories.make_lead(category_id=used.id)
    db.session.commit()
    refused = client.post(f"/admin/categories/{used.id}/delete", headers=HX)
    assert refused.status_code == 409 and "Deactivate it instead" in refused.get_data(as_text=True)
    assert client.post(f"/admin/categories/{unused.id}/delete").status_code == 302
    db.session.expunge_all()
    assert set(db.session.scalars(sa.select(Category.name))) == {"Used"}


def _image(colour=(10, 20, 30)):
    return (io.BytesIO(png_bytes(colour=colour)), "photo.png")


def test_category_images_upload_reorder_remove(app):
    _admin, client = _admin_client(app)
    category = factories.make_category("Fleet")
    db.session.commit()
    url = f"/admin/categories/{category.id}/images"
    for colour in ((1, 1, 1), (2, 2, 2)):
        answer = client.post(url, data={"image": _image(colour)}, headers=HX, content_type="multipart/form-data")
        assert answer.status_code == 200
    bad = client.post(url, data={"image": (io.BytesIO(b"<html>"), "x.png")}, content_type="multipart/form-data")
    assert bad.status_code == 422 and "does not match its .png" in bad.get_data(as_text=True)
    db.session.expire_all()
    first, second = db.session.get(Category, category.id).images
    client.post(f"{url}/{second.id}/move", data={"direction": "up"}, headers=HX)
    db.session.expire_all()
    assert [i.id for i in db.session.get(Category, category.id).images] == [second.id, first.id]
    client.post(f"{url}/{first.id}/remove", headers=HX)
    db.session.expunge_all()
    assert [i.id for i in db.session.get(Category, category.id).images] == [second.id]
    assert db.session.get(StoredFile, first.file_id) is None
    other = factories.make_category("Other")
    db.session.commit()
    assert client.post(f"/admin/categories/{other.id}/images/{second.id}/remove").status_code == 404


def test_content_workflow_draft_submit_reject_resubmit_approve_publish(app):
    partner, cp = _cp_client(app, company="Northwind")
    admin, admin_client = _admin_client(app)
    category = factories.make_category("Solar")
    db.session.commit()
    assert cp.post(f"/cp/profile/content/{category.id}", data={"description": ""}).status_code == 422
    saved = cp.post(f"/cp/profile/content/{category.id}", data={"description": "We install."}, headers=HX)
    assert saved.status_code == 200 and "Draft" in saved.get_data(as_text=True)
    content = db.session.scalar(sa.select(CpCategoryContent).where(CpCategoryContent.cp_id == partner.id))
    image = cp.post(
        f"/cp/profile/content/{content.id}/images", data={"image": _image()}, content_type="multipart/form-data"
    )
    assert image.status_code == 302
    assert cp.post(f"/cp/profile/content/{content.id}/submit").status_code == 302
    assert "We install." not in cp.get("/cp/categories").get_data(as_text=True)  # not published yet
    assert "We install." in admin_client.get("/admin/categories").get_data(as_text=True)  # in "To review"
    no_note = admin_client.post(f"/admin/categories/content/{content.id}/review", data={"decision": "reject"})
    assert no_note.status_code == 422
    admin_client.post(
        f"/admin/categories/content/{content.id}/review", data={"decision": "reject", "note": "Add project photos."}
    )
    db.session.expire_all()
    assert db.session.get(CpCategoryContent, content.id).status == "rejected"
    notes = db.session.scalars(sa.select(Notification).where(Notification.user_id == partner.user_id)).all()
    assert [n.event for n in notes] == ["content_reviewed"] and "rejected" in notes[0].message
    page = cp.get("/cp/profile").get_data(as_text=True)
    assert "Add project photos." in page and "Rejected" in page
    cp.post(f"/cp/profile/content/{content.id}/submit")  # rejected is not a draft: refused
    db.session.expire_all()
    assert db.session.get(CpCategoryContent, content.id).status == "rejected"
    cp.post(f"/cp/profile/content/{category.id}", data={"description": "We install, with 140 sites done."})
    cp.post(f"/cp/profile/content/{content.id}/submit")
    admin_client.post(f"/admin/categories/content/{content.id}/review", data={"decision": "approve"})
    db.session.expire_all()
    assert db.session.get(CpCategoryContent, content.id).status == "approved"
    showcase = cp.get("/cp/categories").get_data(as_text=True)
    assert "showcase-partner" in showcase and "140 sites done" in showcase
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"content.submitted", "content.rejected", "content.approved"} <= actions
    assert admin


def test_a_cp_cannot_touch_another_cps_content(app):
    owner, _ = _cp_client(app)
    _other, intruder = _cp_client(app)
    category = factories.make_category()
    content = CpCategoryContent(cp_id=owner.id, category_id=category.id, description="Mine", status="draft")
    db.session.add(content)
    db.session.commit()
    assert intruder.post(f"/cp/profile/content/{content.id}/submit").status_code == 404
    image = intruder.post(
        f"/cp/profile/content/{content.id}/images", data={"image": _image()}, content_type="multipart/form-data"
    )
    assert image.status_code == 404
    assert "Mine" not in intruder.get("/cp/profile").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(CpCategoryContent, content.id).status == "draft"


def test_customer_view_shows_active_categories_only(app):
    _partner, cp = _cp_client(app)
    shown = factories.make_category("Cloud Migration", description="Move to the cloud.")
    hidden = factories.make_category("Retired", is_active=False)
    stored = factories.make_user("admin")
    db.session.commit()
    from app.files import storage

    image = storage.save_bytes(png_bytes(), "category_image", "c.png", "image/png", actor=stored)
    db.session.add(CategoryImage(category_id=shown.id, file_id=image.id))
    db.session.commit()
    page = cp.get("/cp/categories")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "sidebar-collapsed" in html and "data-showcase" in html
    assert "Move to the cloud." in html and f"/files/{image.id}" in html and "Retired" not in html
    assert cp.get(f"/cp/categories/{hidden.id}/lead").status_code == 404


def test_lead_submitted_from_a_category(app):
    partner, cp = _cp_client(app, company="Blue Harbor")
    admin = factories.make_user("admin")
    category = factories.make_category("Security")
    db.session.commit()
    url = f"/cp/categories/{category.id}/lead"
    form = {
        "description": "CCTV for 3 warehouses, wants a quote by May.",
        "first_name": "Dana",
        "last_name": "Lee",
        "contact_email": "dana@leelogistics.com",
        "contact_phone": "+1 202 555 0199",
        "contact_company": "Lee Logistics",
    }
    bad = cp.post(url, data={**form, "contact_email": "not-an-email"})
    assert bad.status_code == 422 and db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0
    no_way_to_reach = cp.post(url, data={**form, "contact_email": "", "contact_phone": ""})
    assert no_way_to_reach.status_code == 422
    done = cp.post(url, data=form, headers=HX)
    assert done.status_code == 200 and "submitted" in done.get_data(as_text=True)
    lead = db.session.scalar(sa.select(Lead))
    assert (lead.originated_by, lead.allocation_status, lead.category_id) == (partner.id, "pending", category.id)
    assert (lead.channel, lead.intake_status, lead.phone_e164) == ("portal", "pending_review", "+12025550199")
    assert lead.allocated_to is None and lead.contact_company == "Lee Logistics"
    assert lead.title == "Dana Lee · Lee Logistics" and lead.confirmed_at is not None
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == admin.id))
    assert note.event == "lead_submitted" and "Blue Harbor" in note.message
    listing = cp.get("/cp/leads/originated").get_data(as_text=True)
    assert "Dana Lee · Lee Logistics" in listing and "Security" in listing and "Pending" in listing


def test_originated_leads_are_own_only_and_paginated(app):
    partner, cp = _cp_client(app)
    other = factories.make_partner()
    for n in range(23):
        factories.make_lead(originator=partner, title=f"Mine {n:02d}")
    factories.make_lead(originator=other, title="Not mine")
    factories.make_lead(assignee=partner, originator=partner, title="Allocated one")
    db.session.commit()
    first = cp.get("/cp/leads/originated").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Not mine" not in first
    second = cp.get("/cp/leads/originated?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second
    allocated = cp.get("/cp/leads/originated?status=allocated", headers=HX).get_data(as_text=True)
    assert "Allocated one" in allocated and "Mine 01" not in allocated and "<html" not in allocated


def test_a_partner_past_its_monthly_quota_or_without_originates_is_refused_with_a_message(app):
    """SPEC 9.1: the monthly lead quota and the "originates" capability, checked on every submission."""
    partner, cp = _cp_client(app, company="Quota Co")
    partner.monthly_lead_quota = 1
    category = factories.make_category("Security")
    db.session.commit()
    url = f"/cp/categories/{category.id}/lead"
    form = {"first_name": "Dana", "last_name": "Lee", "contact_email": "dana@example.com"}
    assert cp.post(url, data=form).status_code == 302
    over = cp.post(url, data={**form, "first_name": "Second"})
    assert over.status_code == 409 and "quota of 1 leads this month" in over.get_data(as_text=True)
    partner.monthly_lead_quota, partner.cap_originates = None, False
    db.session.commit()
    off = cp.post(url, data={**form, "first_name": "Third"})
    assert off.status_code == 409 and "not set up to submit leads" in off.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 1
