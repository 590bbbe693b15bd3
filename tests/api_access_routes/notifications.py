"""Notifications: everyone's own. "notification" is cp's owner's: anyone else, staff and cp's colleagues
included, gets 404. Viewers manage their own notifications like every member."""

from tests.api_access_table import any_user, api

API_ROUTES = {
    "GET api_notifications.list_notifications": ("/api/v1/notifications", any_user("notifications:read")),
    "POST api_notifications.mark_read": (
        "/api/v1/notifications/{notification}/read",
        api("notifications:write", cp=200, other=404, manager=404, viewer=404, admin=404, super=404),
    ),
    "POST api_notifications.mark_all_read": (
        "/api/v1/notifications/read-all",
        api("notifications:write", cp=200, other=200, manager=200, viewer=200, admin=200, super=200),
    ),
}
