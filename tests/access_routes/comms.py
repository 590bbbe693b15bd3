"""Permission rows for notifications, the live socket and announcements."""

from tests.access_table import admin_only, everyone, expect, logged_in

ROUTES = {
    "GET notifications.index": ("/notifications", logged_in(200)),
    # Only the recipient may touch a notification: everyone else (staff included) gets 404.
    # a notification is its recipient's alone: not the partner's other members'
    "POST notifications.read": (
        "/notifications/{notification}/read",
        expect(cp=302, other=404, admin=404, super=404, manager=404, viewer=404),
    ),
    "POST notifications.read_all": ("/notifications/read-all", logged_in(302)),
    "GET notifications.dropdown": ("/notifications/dropdown", logged_in(200)),
    "GET notifications.badge": ("/notifications/badge", logged_in(200)),
    "GET notifications.preferences": ("/notifications/preferences", logged_in(200)),
    "POST notifications.preferences": ("/notifications/preferences", logged_in(302)),
    "GET notifications.announcement": (
        "/notifications/announcements/{announcement}",
        expect(cp=200, other=404, admin=200, super=200, manager=404, viewer=404),
    ),
    # A plain GET (no Upgrade headers) matches no route, so every role gets 400 Bad Request before
    # any view runs; a real handshake goes through access.enforce (tests/test_realtime.py).
    "GET notifications.ws": ("/ws/notifications", everyone(400)),
    "GET admin.announcements": ("/admin/announcements", admin_only()),
    "GET admin.announcement_new": ("/admin/announcements/new", admin_only()),
    "POST admin.announcement_new": ("/admin/announcements/new", admin_only(422)),
    "GET admin.announcement_detail": ("/admin/announcements/{announcement}", admin_only()),
}
