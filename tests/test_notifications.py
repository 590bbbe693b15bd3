"""Every event of SPEC section 6: the right rows for the right people, and the right emails, caught by
a real SMTP server. Then the pages: list, mark read, read all, dropdown, badge, preferences."""

import io
import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.comms import notifications
from app.extensions import db
from app.models import EmailOutbox, Notification, User
from tests import factories
from tests.conftest import login
from tests.smtp_support import SmtpServer

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def smtp(app):
    """A real SMTP server; the app's email jobs (in-process here) deliver to it."""
    saved = {k: app.config[k] for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT")}
    with SmtpServer() as server:
        app.config.update(server.config())
        yield server.recorder
    app.config.update(saved)


def rows_for(user) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)))


def all_rows() -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification)))


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def people():
    admins = [factories.make_user("admin"), factories.make_user("admin")]
    factories.make_user("admin", status="suspended")
    boss = factories.make_user("super_admin")
    cp = factories.make_partner(company="Northwind Solutions")
    other = factories.make_partner(company="Blue Harbor")
    factories.make_fee_config()
    db.session.commit()
    return admins, boss, cp, other


# --- the events ----------------------------------------------------------------------------------


def test_new_cp_awaiting_approval_reaches_every_active_admin_in_app_and_by_email(app, client, smtp):
    admins, boss, _cp, _other = people()
    response = client.post(
        "/auth/register",
        data={
            "company_name": "Sunrise Ventures",
            "name": "Priya",
            "email": "priya@sunrise.test",
            "password": "a-good-password",
            "confirm": "a-good-password",
        },
    )
    assert response.status_code == 302
    text = "A new channel partner Sunrise Ventures has signed up and requires approval."
    rows = [n for n in all_rows() if n.event == "cp_signed_up"]
    assert sorted(n.user_id for n in rows) == sorted(a.id for a in admins)  # not the suspended one, not super
    assert {(n.title, n.message, n.type, n.reference_type) for n in rows} == {
        ("New channel partner awaiting approval", text, "approval", "cp")
    }
    # The admins, and the partner's own address confirmation email (issue 17).
    assert sorted(m["To"] for m in smtp.messages) == sorted([*(a.email for a in admins), "priya@sunrise.test"])
    message = smtp.to(admins[0].email)[0]
    assert message["Subject"] == "New channel partner awaiting approval"
    assert text in text_of(message)
    link = f"{app.config['PUBLIC_BASE_URL']}/admin/partners/{rows[0].reference_id}"
    assert link in text_of(message) and f'href="{link}"' in html_of(message)
    assert "LeadFlow" in html_of(message)  # the product's look: the branded frame


def test_cp_approved_reaches_the_cp_with_the_welcome_email(app, smtp):
    admins, _boss, _cp, _other = people()
    pending = factories.make_partner(status="pending", company="Pending Co")
    db.session.commit()
    admin_client = login(app.test_client(), admins[0])
    assert admin_client.post(f"/admin/partners/{pending.id}/approve").status_code == 302
    [row] = rows_for(pending.user)
    assert (row.event, row.title, row.message) == (
        "cp_approved",
        "Account approved",
        "Your account has been approved. You can now access your portal.",
    )
    [welcome] = smtp.to(pending.user.email)
    assert "approved" in welcome["Subject"].lower() and "/auth/login" in text_of(welcome)
    assert not any(rows_for(a) for a in admins)


def test_lead_assigned_won_and_lost_reach_the_cp_and_the_admins(app, smtp):
    from app.leads import pipeline

    admins, boss, cp, other = people()
    lead = factories.make_lead(title="Rooftop solar", lead_value=Decimal("10000"), commission_amount=Decimal("1000"))
    lost_lead = factories.make_lead(title="Office fit-out")
    db.session.commit()
    with app.test_request_context():
        pipeline.allocate(lead, cp, admins[0])
        pipeline.allocate(lost_lead, cp, admins[0])
        db.session.commit()
    assigned = [n for n in rows_for(cp.user) if n.event == "lead_assigned"]
    assert {n.message for n in assigned} == {
        "A new lead 'Rooftop solar' has been assigned to you. Start working on it now.",
        "A new lead 'Office fit-out' has been assigned to you. Start working on it now.",
    }
    assert all(n.reference_type == "lead" and n.link == f"/cp/leads/{n.reference_id}" for n in assigned)
    assert [m["Subject"] for m in smtp.to(cp.user.email)] == ["Lead assigned to you"] * 2
    assert not rows_for(other.user) and not smtp.to(other.user.email)

    with app.test_request_context():
        pipeline.change_stage(lead, "won", cp.user, lead.version)
        pipeline.change_stage(lost_lead, "lost", cp.user, lost_lead.version, lost_reason="Went with a rival")
        db.session.commit()
    for admin in admins:
        events = {n.event: n.message for n in rows_for(admin)}
        assert events["lead_won"] == (
            "CP Northwind Solutions marked lead 'Rooftop solar' as won. Commission record has been created."
        )
        assert events["lead_lost"] == (
            "CP Northwind Solutions marked lead 'Office fit-out' as lost. Reason: Went with a rival"
        )
    assert not rows_for(boss)
    # Won and lost are in-app only (seed 000: email for approval, assignment and settlement).
    assert not [m for m in smtp.messages if m["To"] in {a.email for a in admins}]


def test_money_events_reach_the_cp_the_super_admin_and_the_admins(app, smtp):
    from app.leads import pipeline
    from app.money import commissions, fee_settlements, payments, settlements

    admins, boss, cp, _other = people()
    settled = factories.make_lead(title="Settled lead", lead_value=Decimal("10000"), commission_amount=Decimal("1000"))
    direct = factories.make_lead(title="Direct lead", lead_value=Decimal("5000"), commission_amount=Decimal("500"))
    db.session.commit()
    with app.test_request_context():
        for lead in (settled, direct):
            pipeline.allocate(lead, cp, admins[0])
            pipeline.change_stage(lead, "won", cp.user, lead.version)
        tx = commissions.transaction_for(settled)
        commissions.record_client_payment(tx, admins[0], date.today())
        slip = FileStorage(io.BytesIO(PDF), filename="slip.pdf", content_type="application/pdf")
        settlements.settle_to_cp(tx, admins[0], slip, "REF-1", "key-1", tx.net_commission)
        fee_slip = FileStorage(io.BytesIO(PDF), filename="fee.pdf", content_type="application/pdf")
        fee_settlements.settle_fees(admins[0], idempotency_key="fee-key-1", slip=fee_slip, transaction_ids=[tx.id])
        direct_tx = commissions.transaction_for(direct)
        commissions.flag_paid_directly(direct_tx, admins[0], date.today())
        receipt = FileStorage(io.BytesIO(PDF), filename="receipt.pdf", content_type="application/pdf")
        payments.submit_bank_transfer(direct_tx, cp.user, receipt)
        db.session.commit()

    [settled_row] = [n for n in rows_for(cp.user) if n.event == "commission_settled"]
    assert settled_row.message == "Admin has settled $900.00 net commission for lead 'Settled lead'. View your receipt."
    assert [m["Subject"] for m in smtp.to(cp.user.email) if "settled" in m["Subject"]] == ["Commission settled to you"]

    [fee_row] = rows_for(boss)
    assert fee_row.message == "Admin settled $100.00 platform fee covering 1 lead. Receipt is attached."
    assert [m["Subject"] for m in smtp.to(boss.email)] == ["Platform fee settled to you"]

    expected = (
        "Northwind Solutions uploaded a bank-transfer receipt for the $50.00 platform fee on lead 'Direct lead'. "
        "Please confirm it."
    )
    for admin in admins:
        assert [n.message for n in rows_for(admin) if n.event == "bank_receipt_uploaded"] == [expected]
        assert [m["Subject"] for m in smtp.to(admin.email)] == ["Bank-transfer receipt uploaded"]


def test_announcement_reaches_the_targeted_cps_only_with_the_optional_email(app, smtp):
    admins, _boss, cp, other = people()
    third = factories.make_partner(company="Third Co")
    db.session.commit()
    admin_client = login(app.test_client(), admins[0])
    form = {"title": "Price update", "content": "New **prices** from May.", "target": "specific"}
    response = admin_client.post("/admin/announcements/new", data={**form, "partners": [str(cp.id), str(third.id)]})
    assert response.status_code == 303
    for user in (cp.user, third.user):
        [row] = rows_for(user)
        assert (row.event, row.type, row.title) == ("announcement", "announcement", "Price update")
        assert row.message == "Price update — click to read the full message from admin."
    assert not rows_for(other.user) and not smtp.messages  # email not asked for

    form.update(target="all", send_email="y", title="Summer hours")
    assert admin_client.post("/admin/announcements/new", data=form).status_code == 303
    assert sorted(m["To"] for m in smtp.messages) == sorted(u.email for u in (cp.user, other.user, third.user))
    message = smtp.to(other.user.email)[0]
    assert message["Subject"] == "Summer hours"
    assert "<strong>prices</strong>" in html_of(message) and "New **prices** from May." in text_of(message)
    assert not any(rows_for(a) for a in admins)


def test_a_muted_email_keeps_the_in_app_notification(app, smtp):
    from app.leads import pipeline

    admins, _boss, cp, _other = people()
    cp_client = login(app.test_client(), cp.user)
    page = cp_client.get("/notifications/preferences").get_data(as_text=True)
    assert "Email me: Lead assigned to you" in page and "Email me: Announcements from the admin" in page
    assert "awaiting approval" not in page  # an admin's event is not offered to a CP
    response = cp_client.post("/notifications/preferences", data={"announcement": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert "lead_assigned" in cp.user.email_muted_events and "announcement" not in cp.user.email_muted_events

    lead = factories.make_lead(title="Quiet lead")
    db.session.commit()
    with app.test_request_context():
        pipeline.allocate(lead, cp, admins[0])
        db.session.commit()
    assert [n.event for n in rows_for(cp.user)] == ["lead_assigned"]
    assert not smtp.messages
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(EmailOutbox))


def test_one_outbox_row_per_notification_and_recipient_and_a_second_run_sends_nothing(app, smtp):
    from app.jobs import tasks as jobs

    admins, _boss, _cp, _other = people()
    notifications.notify_admins("cp_signed_up", company="Twice Ltd", link="/admin/partners")
    db.session.commit()
    outbox = list(db.session.scalars(sa.select(EmailOutbox)))
    assert sorted(o.to_email for o in outbox) == sorted(a.email for a in admins)
    assert len({o.notification_id for o in outbox}) == 2 and all(o.status == "sent" for o in outbox)
    assert all(jobs.send_email(str(o.id)) == "skipped" for o in outbox)
    assert len(smtp.messages) == 2
    assert sorted(smtp.message_ids()) == sorted(f"<{o.id}@leadflowpm.test>" for o in outbox)


def test_a_failed_send_is_recorded_and_a_retry_sends_it_once(app, smtp):
    from app.jobs import tasks as jobs

    admin = factories.make_user("admin")
    db.session.commit()
    app.config["MAIL_PORT"], port = 1, app.config["MAIL_PORT"]  # nothing listens on port 1
    notifications.notify_admins("cp_signed_up", company="Flaky Ltd")
    db.session.commit()
    row = db.session.scalar(sa.select(EmailOutbox))
    assert row.status == "failed" and "ConnectionRefusedError" in row.last_error and row.attempts == 1
    assert row.to_email == admin.email
    app.config["MAIL_PORT"] = port
    assert jobs.send_email(str(row.id)) == "sent"
    assert jobs.send_email(str(row.id)) == "skipped"
    db.session.refresh(row)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(smtp.to(admin.email)) == 1


# --- the pages -----------------------------------------------------------------------------------


def _notes(user, count):
    rows = []
    for i in range(count):
        rows += notifications.notify([user], "lead_assigned", email=False, link=f"/cp/leads/{i}", title=f"Lead {i}")
    db.session.commit()
    return rows


def test_list_is_newest_first_paginated_with_unread_highlighted_and_links(app):
    cp = factories.make_partner()
    db.session.commit()
    rows = _notes(cp.user, 23)
    for i, row in enumerate(rows):  # distinct times, oldest first
        row.created_at = row.created_at.replace(microsecond=0) - __import__("datetime").timedelta(minutes=100 - i)
    rows[22].is_read = True
    db.session.commit()
    client = login(app.test_client(), cp.user)
    page = client.get("/notifications").get_data(as_text=True)
    titles = re.findall(r"A new lead &#39;(Lead \d+)&#39;", page)
    assert titles[:3] == ["Lead 22", "Lead 21", "Lead 20"] and len(titles) == 20
    assert page.count('data-read="false"') == 19 and page.count('data-read="true"') == 1
    assert "Page 1 of 2" in page
    second = client.get("/notifications?page=2").get_data(as_text=True)
    assert re.findall(r"A new lead &#39;(Lead \d+)&#39;", second) == ["Lead 2", "Lead 1", "Lead 0"]
    unread_only = client.get("/notifications?show=unread").get_data(as_text=True)
    assert "Lead 22" not in unread_only

    response = client.post(f"/notifications/{rows[5].id}/read", data={"open": "1"})
    assert response.status_code == 302 and response.headers["Location"] == "/cp/leads/5"
    db.session.refresh(rows[5])
    assert rows[5].is_read and rows[5].read_at is not None


def test_a_user_can_only_touch_its_own_notifications(app):
    cp, other = factories.make_partner(), factories.make_partner()
    admin = factories.make_user("admin")
    db.session.commit()
    [row] = _notes(cp.user, 1)
    for intruder in (other.user, admin):
        client = login(app.test_client(), intruder)
        assert client.post(f"/notifications/{row.id}/read").status_code == 404
        assert client.post("/notifications/not-a-uuid/read").status_code == 404
        assert "Lead 0" not in client.get("/notifications").get_data(as_text=True)
    db.session.refresh(row)
    assert not row.is_read


def test_mark_read_and_read_all_answer_htmx_with_the_badge_out_of_band(app):
    cp = factories.make_partner()
    db.session.commit()
    rows = _notes(cp.user, 3)
    client = login(app.test_client(), cp.user)
    hx = {"HX-Request": "true"}
    body = client.post(f"/notifications/{rows[0].id}/read", headers=hx).get_data(as_text=True)
    assert f'id="notification-{rows[0].id}"' in body and 'data-read="true"' in body and "<html" not in body
    assert re.search(r'id="notification-badge"[^>]*hx-swap-oob="true"[^>]*data-count="2"', body)

    body = client.post("/notifications/read-all", headers=hx).get_data(as_text=True)
    assert 'id="notification-list"' in body and 'data-read="false"' not in body
    assert re.search(r'id="notification-badge"[^>]*hx-swap-oob="true"[^>]*data-count="0"', body)
    assert notifications.unread_count(cp.user) == 0

    other = factories.make_partner()
    db.session.commit()
    _notes(other.user, 2)
    login(app.test_client(), other.user).post("/notifications/read-all")
    assert notifications.unread_count(other.user) == 0 and notifications.unread_count(cp.user) == 0


def test_bell_dropdown_and_badge(app):
    cp = factories.make_partner()
    db.session.commit()
    _notes(cp.user, 8)
    client = login(app.test_client(), cp.user)
    page = client.get("/cp/").get_data(as_text=True)
    assert re.search(r'id="notification-badge"[^>]*data-count="8"', page)
    assert re.search(r'data-ws-url="[^"]*/ws/notifications"', page) and 'data-badge-url="/notifications/badge"' in page
    assert "js/live.js" in page

    dropdown = client.get("/notifications/dropdown", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert dropdown.count("Lead assigned to you") == 6 and "Lead 7" in dropdown and "Lead 1&#39;" not in dropdown
    assert "See all notifications" in dropdown and "<html" not in dropdown
    assert "Lead assigned to you" in client.get("/notifications/dropdown").get_data(as_text=True)  # a full page too

    badge = client.get("/notifications/badge", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert re.search(r'id="notification-badge"[^>]*data-count="8"', badge) and "hx-swap-oob" not in badge
    assert "8</strong> unread" in client.get("/notifications/badge").get_data(as_text=True)


def test_announcement_page_for_its_cps_only(app):
    from app.comms import announcements

    admin = factories.make_user("admin")
    cp, other = factories.make_partner(), factories.make_partner()
    db.session.commit()
    with app.test_request_context():
        item = announcements.send(admin, "Hello", "Line one\nline two\n\n<script>x</script>", [cp.id], False)
        db.session.commit()
    page = login(app.test_client(), cp.user).get(f"/notifications/announcements/{item.id}").get_data(as_text=True)
    assert "<p>Line one<br>\nline two</p>" in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert login(app.test_client(), other.user).get(f"/notifications/announcements/{item.id}").status_code == 404
    [row] = rows_for(cp.user)
    assert row.link == f"/notifications/announcements/{item.id}"


def test_every_event_key_formats_with_the_fields_its_text_names():
    for key, event in notifications.EVENTS.items():
        names = set(re.findall(r"{(\w+)}", event.title + event.message))
        fields = {name: "x" for name in names}
        assert event.title.format(**fields) and event.message.format(**fields), key
        assert set(event.audience) <= {"channel_partner", "admin", "super_admin"}


def test_staff_preferences_offer_their_own_events(app):
    admin, boss = factories.make_user("admin"), factories.make_user("super_admin")
    db.session.commit()
    admin_page = login(app.test_client(), admin).get("/notifications/preferences").get_data(as_text=True)
    assert "Email me: New channel partner awaiting approval" in admin_page
    assert "Email me: Bank-transfer receipt uploaded" in admin_page and "Lead assigned" not in admin_page
    boss_page = login(app.test_client(), boss).get("/notifications/preferences").get_data(as_text=True)
    assert "Email me: Platform fee settled to you" in boss_page
    assert db.session.get(User, boss.id).email_muted_events == []


def test_actions_refuse_a_request_without_the_csrf_token(app):
    from tests.conftest import make_app

    strict = make_app(WTF_CSRF_ENABLED=True)
    cp = factories.make_partner()
    db.session.commit()
    [row] = _notes(cp.user, 1)
    client = login(strict.test_client(), cp.user)
    assert client.post("/notifications/read-all").status_code == 400
    assert client.post(f"/notifications/{row.id}/read", headers={"HX-Request": "true"}).status_code == 400
    assert client.post("/notifications/preferences", data={}).status_code == 400
    assert notifications.unread_count(cp.user) == 1

    page = client.get("/notifications").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post("/notifications/read-all", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200 and notifications.unread_count(cp.user) == 0
