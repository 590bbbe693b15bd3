"""/api/v1/notifications: the caller's own in-app notifications (SPEC 6), as the bell and /notifications show
them: list, mark one read, mark all read. Every member of a partner, viewers included, manages their own."""

import marshmallow as ma
from flask_smorest import Blueprint

from app.access import ANY_MEMBER, ANY_USER, members, roles
from app.api.fields import Timestamp
from app.api.pagination import PageArgs, keyset_page, page_schema
from app.api.principal import acting_user, scope
from app.comms import notifications
from app.extensions import db
from app.loaders import load_notification
from app.models import Notification
from app.models.comms import NOTIFICATION_TYPES, REFERENCE_TYPES

blp = Blueprint("api_notifications", __name__, url_prefix="/notifications", description="Notifications")


class NotificationOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    event = ma.fields.String(required=True, metadata={"description": "What happened (lead_assigned, ...)"})
    type = ma.fields.String(required=True, metadata={"enum": list(NOTIFICATION_TYPES)})
    title = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    link = ma.fields.String(allow_none=True, metadata={"description": "A path in the web app"})
    is_read = ma.fields.Boolean(required=True)
    read_at = Timestamp(allow_none=True)
    reference_type = ma.fields.String(allow_none=True, metadata={"enum": [*REFERENCE_TYPES, None]})
    reference_id = ma.fields.UUID(allow_none=True)
    created_at = Timestamp(required=True)


class NotificationListArgs(PageArgs):
    unread = ma.fields.Boolean(load_default=False, metadata={"description": "Only the unread ones"})


class ReadAllOut(ma.Schema):
    marked = ma.fields.Integer(required=True, metadata={"description": "How many were unread"})
    unread = ma.fields.Integer(required=True, metadata={"description": "How many are unread now"})


@blp.route("", methods=["GET"])
@roles(*ANY_USER)
@scope("notifications:read")
@blp.arguments(NotificationListArgs, location="query")
@blp.response(200, page_schema(NotificationOut, "NotificationPage"))
def list_notifications(args):
    """Your notifications, newest first"""
    return keyset_page(notifications.statement_for(acting_user(), args.pop("unread")), Notification, args)


@blp.route("/<uuid:notification_id>/read", methods=["POST"])
@roles(*ANY_USER)
@members(*ANY_MEMBER)
@scope("notifications:write")
@blp.response(200, NotificationOut)
def mark_read(notification_id):
    """Mark one of your notifications read"""
    notification = load_notification(notification_id)
    notifications.mark_read(notification)
    db.session.commit()
    return notification


@blp.route("/read-all", methods=["POST"])
@roles(*ANY_USER)
@members(*ANY_MEMBER)
@scope("notifications:write")
@blp.response(200, ReadAllOut)
def mark_all_read():
    """Mark all your notifications read"""
    marked = notifications.mark_all_read(acting_user())
    db.session.commit()
    return {"marked": marked, "unread": notifications.unread_count(acting_user())}
