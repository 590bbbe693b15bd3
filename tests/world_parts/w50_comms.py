"""Comms records for the route walk: a notification of cp's, an announcement sent to cp alone."""

from app.comms import notifications
from app.extensions import db
from app.models import Announcement, AnnouncementTarget
from app.models.base import utcnow


def add(world):
    cp, admin = world["partners"]["cp"], world["users"]["admin"]
    [row] = notifications.notify([cp.user], "lead_assigned", email=False, link="/cp/", title="World lead")
    announcement = Announcement(
        title="World news", content="Hello partners.", target_type="specific", created_by=admin.id, sent_at=utcnow()
    )
    announcement.targets = [AnnouncementTarget(cp_id=cp.id)]
    db.session.add(announcement)
    db.session.flush()
    notifications.notify(
        [cp.user], "announcement", reference=("announcement", announcement.id), email=False, title=announcement.title
    )
    world["ids"].update({"notification": row.id, "announcement": announcement.id})
