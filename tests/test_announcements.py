"""Announcements: compose, target all or chosen CPs, send (in-app, optional email), sent list with read
counts, detail, the dashboards' helpers, and the safe message format."""

import re

import pytest
import sqlalchemy as sa

from app.comms import announcements
from app.extensions import db
from app.jobs import tasks as jobs
from app.models import Announcement, AuditEvent, Notification
from tests import factories
from tests.conftest import login

HX = {"HX-Request": "true"}


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def setup(app):
    admin = factories.make_user("admin")
    cps = [factories.make_partner(company=name) for name in ("Alpha Co", "Beta Co", "Gamma Co")]
    pending = factories.make_partner(status="pending", company="Waiting Co")
    suspended = factories.make_partner(status="suspended", company="Paused Co")
    db.session.commit()
    return login(app.test_client(), admin), admin, cps, pending, suspended


def test_compose_form_has_labelled_fields_and_only_approved_partners(setup):
    client, _admin, cps, pending, suspended = setup
    page = client.get("/admin/announcements/new").get_data(as_text=True)
    for label in (
        "Title",
        "Message",
        "Send to",
        "All approved channel partners",
        "Chosen channel partners",
        "Channel partners",
        "Send email too",
    ):
        assert f">{label}</" in page or f">{label}<" in page, label
    assert all(f'value="{cp.id}"' in page for cp in cps)
    assert str(pending.id) not in page and str(suspended.id) not in page


@pytest.mark.parametrize(
    "form, message",
    [
        ({}, "This field is required."),
        ({"title": "  ", "content": "Body", "target": "all"}, "This field is required."),
        ({"title": "T" * 201, "content": "Body", "target": "all"}, "Field cannot be longer than 200 characters."),
        ({"title": "Hi", "content": "x" * 20001, "target": "all"}, "Field cannot be longer than 20000 characters."),
        ({"title": "Hi", "content": "Body", "target": "specific"}, "Choose at least one channel partner."),
        ({"title": "Hi", "content": "Body", "target": "everyone"}, "Not a valid choice"),
        ({"title": "Hi", "content": "Body", "target": "specific", "partners": ["not-a-uuid"]}, "valid choice"),
    ],
)
def test_bad_input_is_refused_beside_the_field_and_nothing_is_written(setup, form, message):
    client = setup[0]
    response = client.post("/admin/announcements/new", data=form, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body
    assert 'id="announcement-form"' in body and "<html" not in body
    assert count(Announcement) == 0 and count(Notification) == 0


def test_a_pending_partner_cannot_be_targeted_by_a_crafted_post(setup):
    client, _admin, _cps, pending, _suspended = setup
    form = {"title": "Hi", "content": "Body", "target": "specific", "partners": [str(pending.id)]}
    assert client.post("/admin/announcements/new", data=form).status_code == 422
    assert count(Announcement) == 0 and not db.session.scalar(sa.select(Notification))


def test_send_to_all_notifies_each_approved_cp_once_and_is_audited(setup):
    client, admin, cps, pending, suspended = setup
    form = {"title": "Ünïcode “news” 🎉", "content": "Hello **all**", "target": "all"}
    response = client.post("/admin/announcements/new", data=form, headers=HX)
    assert response.status_code == 204
    item = db.session.scalar(sa.select(Announcement))
    assert response.headers["HX-Redirect"] == f"/admin/announcements/{item.id}"
    rows = list(db.session.scalars(sa.select(Notification)))
    assert sorted(r.user_id for r in rows) == sorted(cp.user_id for cp in cps)
    assert {r.title for r in rows} == {"Ünïcode “news” 🎉"} and item.sent_at is not None
    audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "announcement.sent"))
    assert audit.actor_id == admin.id and audit.after["target"] == "all"

    assert jobs.deliver_announcement(str(item.id)) == 0  # a second run of the job adds nobody
    assert count(Notification) == 3


def test_sent_list_and_detail_show_recipients_and_read_counts(app, setup):
    client, _admin, cps, _pending, _suspended = setup
    client.post(
        "/admin/announcements/new",
        data={"title": "Chosen", "content": "Hi", "target": "specific", "partners": [str(cps[0].id), str(cps[2].id)]},
    )
    client.post("/admin/announcements/new", data={"title": "Everyone", "content": "Hi", "target": "all"})
    chosen = db.session.scalar(sa.select(Announcement).where(Announcement.title == "Chosen"))
    note = db.session.scalar(
        sa.select(Notification).where(Notification.user_id == cps[0].user_id, Notification.reference_id == chosen.id)
    )
    assert login(app.test_client(), cps[0].user).post(f"/notifications/{note.id}/read").status_code == 302

    page = client.get("/admin/announcements").get_data(as_text=True)
    row = re.search(rf'<tr id="announcement-{chosen.id}">(.*?)</tr>', page, re.S).group(1)
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[1:5] == ["2 chosen", "No", "2", "1 (50%)"]
    assert page.index("Everyone") < page.index("Chosen")  # newest first

    detail = client.get(f"/admin/announcements/{chosen.id}").get_data(as_text=True)
    assert "<strong>1</strong> of 2 read" in detail
    assert "Alpha Co" in detail and "Gamma Co" in detail and "Beta Co" not in detail
    assert client.get("/admin/announcements/00000000-0000-0000-0000-000000000000").status_code == 404


def test_no_approved_partners_gives_a_clear_message(app):
    admin = factories.make_user("admin")
    db.session.commit()
    response = login(app.test_client(), admin).post(
        "/admin/announcements/new", data={"title": "Hi", "content": "Body", "target": "all"}
    )
    assert response.status_code == 422
    assert "There are no approved channel partners to announce to yet." in response.get_data(as_text=True)


def test_dashboard_helpers_latest_and_latest_for_partner(app, setup):
    _client, admin, cps, _pending, _suspended = setup
    with app.test_request_context():
        first = announcements.send(admin, "First", "One", None, False)
        db.session.commit()
        second = announcements.send(admin, "Second", "Two", [cps[1].id], False)
        db.session.commit()
    assert [a.title for a in announcements.latest(5)] == ["Second", "First"]
    assert [a.title for a in announcements.latest(1)] == ["Second"]
    assert [a.id for a in announcements.latest_for_partner(cps[1], 5)] == [second.id, first.id]
    assert [a.id for a in announcements.latest_for_partner(cps[0], 5)] == [first.id]
    assert announcements.read_counts([first.id, second.id]) == {first.id: (3, 0), second.id: (1, 0)}


def test_the_message_format_is_a_small_escaped_subset():
    html = str(
        announcements.render_message(
            "Hello **team** and *you*.\nSecond line <b>raw</b>\n\n- one\n- [site](https://example.com/a?b=1&c=2)\n\n"
            '[bad](javascript:alert(1)) "quotes" <script>alert(1)</script>'
        )
    )
    assert "<p>Hello <strong>team</strong> and <em>you</em>.<br>\nSecond line &lt;b&gt;raw&lt;/b&gt;</p>" in html
    assert (
        '<ul><li>one</li><li><a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer">site</a></li></ul>'
        in html
    )
    assert "javascript:" in html and 'href="javascript' not in html  # left as text, never a link
    assert "<script>" not in html and "&lt;script&gt;" in html and "&#34;quotes&#34;" in html


def test_the_dashboard_excerpt_is_plain_text_without_markup(app, setup):
    _client, admin, cps, _pending, _suspended = setup
    message = "**Q4 pricing** is live:\n\n- see [the sheet](https://example.com/q4)\n- *ask* us <b>anything</b>"
    with app.test_request_context():
        announcements.send(admin, "Pricing", message, None, False)
        db.session.commit()
    page = login(app.test_client(), cps[0].user).get("/cp/").get_data(as_text=True)
    excerpt = re.search(r'<div class="small text-muted text-truncate">([^<]*)</div>', page).group(1)
    assert excerpt == "Q4 pricing is live: see the sheet ask us &lt;b&gt;anything&lt;/b&gt;"
    assert announcements.plain_excerpt("x" * 200, 20) == "x" * 19 + "…"
