"""Sign-up, approval, manual add, login, logout, rate limiting and CSRF, through the pages."""

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, ChannelPartner, EmailOutbox, Notification, User
from tests import factories
from tests.conftest import login, make_app


def sign_up(client, email="new@partner.test", company="New Partner Ltd", password="a-good-password"):
    return client.post(
        "/auth/register",
        data={"company_name": company, "name": "Nia New", "email": email, "password": password, "confirm": password},
    )


def log_in(client, email, password=factories.PASSWORD):
    return client.post("/auth/login", data={"email": email, "password": password})


def test_sign_up_then_pending_then_approval_then_login(client, mail_outbox):
    admin = factories.make_user("admin")
    db.session.commit()

    response = sign_up(client)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/pending"
    user = db.session.scalar(sa.select(User).where(User.email == "new@partner.test"))
    assert user.status == "pending" and user.partner.status == "pending"

    # A pending partner sees only the "Approval pending" page, whatever it opens.
    for url in ("/cp/", "/admin/partners", "/admin/", "/super/", "/auth/change-password"):
        assert client.get(url).headers.get("Location") == "/auth/pending", url
    assert "Approval pending" in client.get("/auth/pending").get_data(as_text=True)

    # Admins get a notification row and an email.
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == admin.id))
    assert note.message == "A new channel partner New Partner Ltd has signed up and requires approval."
    assert any(m["To"] == admin.email for m in mail_outbox)

    admin_client = login(client.application.test_client(), admin)
    page = admin_client.get("/admin/partners?tab=pending").get_data(as_text=True)
    assert "New Partner Ltd" in page
    # Approval waits for the partner to confirm their address through the emailed link.
    assert admin_client.post(f"/admin/partners/{user.partner.id}/approve").status_code == 409
    confirmation = next(m for m in mail_outbox if m["To"] == "new@partner.test")
    link = re.search(r"/auth/confirm/[\w-]+", confirmation.get_body(("plain",)).get_content()).group(0)
    assert client.post(link).status_code == 200
    response = admin_client.post(f"/admin/partners/{user.partner.id}/approve", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert f'id="partner-{user.partner.id}"' in response.get_data(as_text=True)  # the row, not a page
    assert "<html" not in response.get_data(as_text=True)

    db.session.expire_all()
    assert user.status == "active" and user.partner.status == "approved"
    welcome = [m for m in mail_outbox if m["To"] == "new@partner.test"]
    assert welcome and "approved" in welcome[-1]["Subject"].lower()
    assert "/auth/login" in welcome[-1].get_body(("plain",)).get_content()

    fresh = client.application.test_client()
    response = log_in(fresh, "new@partner.test", "a-good-password")
    assert response.headers["Location"] == "/cp/"
    assert "New Partner Ltd" in fresh.get("/cp/").get_data(as_text=True)


def test_duplicate_email_at_sign_up_is_refused_without_a_second_user(client):
    factories.make_partner(email="taken@partner.test")
    db.session.commit()
    response = sign_up(client, email="TAKEN@partner.test")
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("email", "not-an-email", "Enter a valid email address"),
        ("company_name", "x" * 500, "200"),
        ("password", "short", "10 to 128"),
    ],
)
def test_bad_sign_up_input_is_shown_beside_the_field(client, field, value, message):
    data = {"company_name": "Co", "name": "N", "email": "ok@partner.test", "password": "long-enough-1", "confirm": ""}
    data[field] = value
    data["confirm"] = data["password"]
    response = client.post("/auth/register", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_rejection_sends_the_note_and_blocks_login(client, mail_outbox):
    admin = factories.make_user("admin")
    partner = factories.make_partner(status="pending", email="maybe@partner.test")
    db.session.commit()
    admin_client = login(client.application.test_client(), admin)
    response = admin_client.post(f"/admin/partners/{partner.id}/reject", data={"note": "Please add a company website."})
    assert response.status_code == 302
    db.session.expire_all()
    assert partner.status == "rejected" and partner.user.status == "rejected"
    email = next(m for m in mail_outbox if m["To"] == "maybe@partner.test")
    assert "Please add a company website." in email.get_body(("plain",)).get_content()
    assert log_in(client, "maybe@partner.test").status_code == 401


def test_manual_add_then_welcome_email_then_set_password_link(client, mail_outbox):
    admin = factories.make_user("admin")
    db.session.commit()
    admin_client = login(client.application.test_client(), admin)
    response = admin_client.post(
        "/admin/partners/add", data={"name": "Manu Al", "company_name": "Manual Co", "email": "manual@partner.test"}
    )
    assert response.status_code == 302
    partner = db.session.scalar(sa.select(ChannelPartner).where(ChannelPartner.company_name == "Manual Co"))
    assert partner.status == "approved" and partner.user.must_change_password

    response = admin_client.post(f"/admin/partners/{partner.id}/welcome-email", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Welcome email" in response.get_data(as_text=True)
    text = mail_outbox[-1].get_body(("plain",)).get_content()
    link = re.search(r"/auth/set-password/([\w-]+)", text)
    assert link and "Temporary password" not in text
    assert (
        db.session.scalar(sa.select(EmailOutbox.status).where(EmailOutbox.to_email == "manual@partner.test")) == "sent"
    )
    assert link.group(1) not in str(db.session.scalar(sa.select(EmailOutbox.context)))  # never stored at rest

    response = client.post(link.group(0), data={"new_password": "my-own-password", "confirm": "my-own-password"})
    assert response.headers["Location"] == "/auth/login"
    response = log_in(client, "manual@partner.test", "my-own-password")
    assert response.headers["Location"] == "/cp/"
    assert client.get("/cp/").status_code == 200
    # "Send welcome email" again is refused once the partner has chosen a password.
    response = admin_client.post(f"/admin/partners/{partner.id}/welcome-email", headers={"HX-Request": "true"})
    assert response.status_code == 409


def test_suspension_ends_sessions_and_blocks_login(client):
    admin = factories.make_user("admin")
    partner = factories.make_partner(email="sus@partner.test")
    db.session.commit()
    assert log_in(client, "sus@partner.test").status_code == 302
    assert client.get("/cp/").status_code == 200

    admin_client = login(client.application.test_client(), admin)
    assert admin_client.post(f"/admin/partners/{partner.id}/suspend").status_code == 302
    assert client.get("/cp/").headers["Location"].startswith("/auth/login")  # the open session is over
    assert log_in(client.application.test_client(), "sus@partner.test").status_code == 401

    assert admin_client.post(f"/admin/partners/{partner.id}/reactivate").status_code == 302
    assert log_in(client.application.test_client(), "sus@partner.test").status_code == 302
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(partner.id))).all()
    assert {"cp.suspended", "cp.reactivated"} <= set(actions)


def test_wrong_password_message_is_generic_and_logout_ends_the_session(client):
    factories.make_partner(email="who@partner.test")
    db.session.commit()
    for email, password in (("who@partner.test", "wrong-password"), ("nobody@partner.test", "whatever-pass")):
        response = log_in(client, email, password)
        assert response.status_code == 401
        assert "Wrong email or password." in response.get_data(as_text=True)
    assert log_in(client, "who@partner.test").status_code == 302
    assert client.post("/auth/logout").status_code == 302
    assert client.get("/cp/").headers["Location"].startswith("/auth/login")


def test_login_rotates_the_session():
    app = make_app()
    with app.app_context():
        factories.make_partner(email="rot@partner.test")
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            session["planted"] = "by an attacker"
        log_in(client, "rot@partner.test")
        with client.session_transaction() as session:
            assert "planted" not in session


def test_login_is_rate_limited_after_ten_failures(app):
    factories.make_partner(email="brute@partner.test")
    db.session.commit()
    client = app.test_client()
    codes = [log_in(client, "brute@partner.test", f"guess-{i}").status_code for i in range(11)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    blocked = log_in(client, "brute@partner.test")  # even the right password waits
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)


def test_csrf_is_enforced_on_auth_forms():
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        factories.make_partner(email="csrf@partner.test")
        db.session.commit()
        client = app.test_client()
        assert log_in(client, "csrf@partner.test").status_code == 400
        page = client.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post(
            "/auth/login", data={"email": "csrf@partner.test", "password": factories.PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302
        # An HTMX post without the header token is refused and told to refresh.
        response = client.post("/auth/logout", headers={"HX-Request": "true"})
        assert response.status_code == 400 and response.headers.get("HX-Refresh") == "true"
