"""Notifications through the API (SPEC 6): each caller's own, newest first, unread filter, mark one and all read,
with the same service as the bell; someone else's notification is missing (404) and stays unread."""

import sqlalchemy as sa

from app.comms import notifications
from app.extensions import db
from app.models import Notification
from tests import factories
from tests.api_support import bearer, key_for, key_headers, token_for


def test_list_read_one_and_read_all(client):
    partner = factories.make_partner()
    viewer = factories.make_member(partner, "viewer")
    stranger = factories.make_partner()
    rows = notifications.notify([viewer], "lead_assigned", email=False, link="/cp/", title="First")
    rows += notifications.notify([viewer], "lead_assigned", email=False, link="/cp/", title="Second")
    [foreign] = notifications.notify([stranger.user], "lead_assigned", email=False, title="Not yours")
    db.session.commit()
    headers = bearer(token_for(viewer))

    listed = client.get("/api/v1/notifications", headers=headers)
    assert listed.status_code == 200
    assert [n["id"] for n in listed.json["data"]] == [str(rows[1].id), str(rows[0].id)]
    assert listed.json["data"][0]["message"] == "A new lead 'Second' has been assigned to you. Start working on it now."
    assert listed.json["data"][0]["type"] == "lead" and listed.json["data"][0]["is_read"] is False
    first_page = client.get("/api/v1/notifications?limit=1", headers=headers).json
    second_page = client.get(f"/api/v1/notifications?limit=1&cursor={first_page['next_cursor']}", headers=headers).json
    assert [n["id"] for n in first_page["data"] + second_page["data"]] == [str(rows[1].id), str(rows[0].id)]
    assert second_page["next_cursor"] is None

    read = client.post(f"/api/v1/notifications/{rows[0].id}/read", headers=headers)  # a viewer's own: allowed
    assert read.status_code == 200 and read.json["is_read"] is True and read.json["read_at"] is not None
    unread = client.get("/api/v1/notifications?unread=true", headers=headers).json["data"]
    assert [n["id"] for n in unread] == [str(rows[1].id)]

    assert client.post(f"/api/v1/notifications/{foreign.id}/read", headers=headers).status_code == 404
    all_read = client.post("/api/v1/notifications/read-all", headers=headers)
    assert all_read.status_code == 200 and all_read.json == {"marked": 1, "unread": 0}
    assert client.post("/api/v1/notifications/read-all", headers=headers).json == {"marked": 0, "unread": 0}
    db.session.expire_all()
    assert db.session.get(Notification, foreign.id).is_read is False
    assert notifications.unread_count(stranger.user) == 1


def test_a_key_reads_with_notifications_read_and_marks_with_notifications_write(client):
    partner = factories.make_partner()
    [row] = notifications.notify([partner.user], "cp_approved", email=False)
    db.session.commit()
    reader = key_headers(key_for(partner.user, ["notifications:read"]))
    writer = key_headers(key_for(partner.user, ["notifications:write"]))
    assert len(client.get("/api/v1/notifications", headers=reader).json["data"]) == 1
    assert client.post(f"/api/v1/notifications/{row.id}/read", headers=reader).status_code == 403
    assert client.post(f"/api/v1/notifications/{row.id}/read", headers=writer).status_code == 200
    assert db.session.scalar(sa.select(Notification.is_read).where(Notification.id == row.id)) is True
    bad = client.get("/api/v1/notifications?unread=maybe&limit=500", headers=reader)
    assert bad.status_code == 422 and {"unread", "limit"} <= set(bad.json["errors"])
