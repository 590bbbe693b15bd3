"""Company profile, bank details (audited, admins told, masked), logos, avatars and the staff profile views."""

import io

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, ChannelPartner, CpCategoryContent, Notification, StoredFile, User
from tests import factories
from tests.conftest import login
from tests.storage_support import png_bytes

BANK = {
    "bank_name": "Harbor Trust",
    "bank_account_number": "GB29 NWBK 6016 1331 9268 19",
    "bank_account_name": "Blue Harbor LLC",
    "bank_branch": "Seaside",
    "bank_swift_code": "hrbtus44xxx",
}


@pytest.fixture
def partner(app):
    partner = factories.make_partner(company="Blue Harbor", bank_account_number="12345678901")
    db.session.commit()
    return partner


def test_company_details_are_saved_and_validated(app, partner):
    client = login(app.test_client(), partner.user)
    ok = {"company_name": "Blue Harbor Partners", "contact_phone": "+1 555 0100", "website": "https://bh.example.com"}
    assert client.post("/cp/profile/company", data=ok).status_code == 302
    db.session.expire_all()
    assert db.session.get(ChannelPartner, partner.id).company_name == "Blue Harbor Partners"
    for bad in ({"company_name": ""}, {"company_name": "X", "contact_phone": "call me"}, {"company_name": "X" * 201}):
        response = client.post("/cp/profile/company", data=bad)
        assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(ChannelPartner, partner.id).company_name == "Blue Harbor Partners"


def test_bank_change_is_audited_with_before_and_after_and_admins_are_told(app, partner):
    admin = factories.make_user("admin")
    db.session.commit()
    client = login(app.test_client(), partner.user)
    assert client.post("/cp/profile/bank", data=BANK).status_code == 302
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "partner.bank_details_changed"))
    assert event.actor_id == partner.user_id
    # the secret fields are in the log masked, never in full (tests/test_kyc.py has the rest of KYC)
    assert event.before["bank_account_number"] == "•••••••8901"
    assert event.after["bank_account_number"] == "•" * 18 + "6819"
    assert "bank_account_number" in event.after["changed"] and event.after["kyc_status"] == "unverified"
    assert event.after["bank_swift_code"] == "HRBTUS44XXX"
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == admin.id))
    assert note.event == "bank_details_changed" and "Blue Harbor" in note.message
    client.post("/cp/profile/bank", data=BANK)  # the same details again: no new event
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action.like("%bank%"))) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bank_swift_code", "ABC", "8 or 11"),
        ("bank_swift_code", "HRBTUS44XX", "8 or 11"),
        ("bank_account_number", "12", "4 or more"),
        ("bank_account_number", "1" * 61, "Field cannot be longer"),
        ("bank_name", "", "This field is required"),
        ("bank_account_name", "", "This field is required"),
    ],
)
def test_bank_details_validation(app, partner, field, value, message):
    client = login(app.test_client(), partner.user)
    response = client.post("/cp/profile/bank", data={**BANK, field: value})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ChannelPartner, partner.id).bank_account_number == "12345678901"
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 0


def test_account_number_is_masked_on_every_profile_page(app, partner):
    """Masked for its owner and for staff alike; only the admin's settle screen shows it (tests/test_kyc.py)."""
    admin, boss = factories.make_user("admin"), factories.make_user("super_admin")
    db.session.commit()
    assert partner.masked_account_number == "•••••••8901"
    for client, url in (
        (login(app.test_client(), partner.user), "/cp/profile"),
        (login(app.test_client(), admin), f"/admin/partners/{partner.id}"),
        (login(app.test_client(), boss), f"/super/partners/{partner.id}"),
    ):
        html = client.get(url).get_data(as_text=True)
        assert "12345678901" not in html and "•••••••8901" in html, url


def test_logo_upload_replace_and_remove(app, partner):
    client = login(app.test_client(), partner.user)

    def send(data, name):
        form = {"logo": (io.BytesIO(data), name), "action": "upload"}
        return client.post("/cp/profile/logo", data=form, content_type="multipart/form-data")

    assert send(png_bytes(), "logo.png").status_code == 302
    db.session.expire_all()
    first = db.session.get(ChannelPartner, partner.id).logo_file_id
    assert first and client.get(f"/files/{first}").status_code == 200
    assert send(b"%PDF-1.4\n%%EOF", "logo.pdf").status_code == 422  # images only
    assert send(png_bytes(colour=(0, 0, 0)), "new.png").status_code == 302
    db.session.expire_all()
    second = db.session.get(ChannelPartner, partner.id).logo_file_id
    assert second != first and db.session.get(StoredFile, first) is None
    client.post("/cp/profile/logo", data={"action": "remove"})
    db.session.expire_all()
    assert db.session.get(ChannelPartner, partner.id).logo_file_id is None


@pytest.mark.parametrize("role", ["channel_partner", "admin", "super_admin"])
def test_any_user_sets_and_removes_an_avatar_shown_in_the_header(app, role):
    user = factories.make_partner().user if role == "channel_partner" else factories.make_user(role)
    db.session.commit()
    client = login(app.test_client(), user)
    form = {"avatar": (io.BytesIO(png_bytes()), "me.png"), "action": "upload"}
    assert client.post("/account", data=form, content_type="multipart/form-data").status_code == 302
    db.session.expire_all()
    avatar_id = db.session.get(User, user.id).avatar_file_id
    page = client.get("/account").get_data(as_text=True)
    assert f"/files/{avatar_id}" in page and 'class="avatar avatar-sm"' in page  # the header's user menu
    client.post("/account", data={"action": "remove"})
    db.session.expire_all()
    assert db.session.get(User, user.id).avatar_file_id is None
    assert "avatar-initials" in client.get("/account").get_data(as_text=True)


def test_staff_profile_views_show_logo_contact_content_and_history(app, partner):
    admin, boss = factories.make_user("admin"), factories.make_user("super_admin")
    category = factories.make_category("Cloud")
    content = CpCategoryContent(cp_id=partner.id, category_id=category.id, description="We migrate.", status="draft")
    db.session.add(content)
    partner.contact_phone, partner.website = "+1 555 0142", "bluharbor.example.com"
    db.session.commit()
    login(app.test_client(), partner.user).post(f"/cp/profile/content/{content.id}/submit")
    for client, url in (
        (login(app.test_client(), admin), f"/admin/partners/{partner.id}"),
        (login(app.test_client(), boss), f"/super/partners/{partner.id}"),
    ):
        html = client.get(url).get_data(as_text=True)
        assert "+1 555 0142" in html and "We migrate." in html and "content: submitted" in html


def test_super_partner_list_searches_and_paginates(app):
    boss = factories.make_user("super_admin")
    for n in range(27):
        factories.make_partner(company=f"Reseller {n:02d}")
    factories.make_partner(company="Zenith Unique")
    db.session.commit()
    client = login(app.test_client(), boss)
    first = client.get("/super/partners").get_data(as_text=True)
    assert "Page 1 of 2" in first
    found = client.get("/super/partners?q=zenith", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Zenith Unique" in found and "Reseller 01" not in found and "<html" not in found
