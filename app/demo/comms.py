"""Demo announcements and notifications: the bell and the announcements pages have something real to show."""

import sqlalchemy as sa

from app.comms import announcements, notifications
from app.extensions import db
from app.models import Announcement, AnnouncementTarget, ChannelPartner, Notification, User

ANNOUNCEMENTS = [
    (
        "Welcome to the LeadFlow PM partner programme",
        "Thank you for joining us.\n\nA few tips to get going:\n- Keep your **bank details** up to date\n"
        "- Move leads along the Kanban as you work them\n- Ask for settlement as soon as a commission is due",
        None,
    ),
    (
        "Q3 incentive: faster settlements",
        "From this quarter we settle due commissions *every Friday*.\nQuestions? Reply to your account manager.",
        ("cp1@demo.test", "cp2@demo.test"),
    ),
]


def _seed_announcement(admin: User, title: str, content: str, emails) -> None:
    if db.session.scalar(sa.select(Announcement.id).where(Announcement.title == title)):
        return
    announcement = Announcement(
        title=title, content=content, target_type="all" if emails is None else "specific", created_by=admin.id
    )
    if emails is not None:
        partners = db.session.scalars(
            sa.select(ChannelPartner).join(User, User.id == ChannelPartner.user_id).where(User.email.in_(emails))
        )
        announcement.targets = [AnnouncementTarget(cp_id=p.id) for p in partners]
    db.session.add(announcement)
    db.session.flush()
    announcements.deliver(announcement.id)


def _seed_signup_notice() -> None:
    """The pending demo CP signed up before any admin looked: the admins' bell says so."""
    pending = db.session.scalar(
        sa.select(ChannelPartner).join(User, User.id == ChannelPartner.user_id).where(User.email == "pending@demo.test")
    )
    if pending is None or pending.status != "pending":
        return
    exists = sa.select(Notification.id).where(
        Notification.event == "cp_signed_up", Notification.reference_id == pending.id
    )
    if db.session.scalar(exists.limit(1)):
        return
    notifications.notify_admins(
        "cp_signed_up",
        company=pending.company_name,
        reference=("cp", pending.id),
        link=notifications.path_for("admin.partner_detail", partner_id=pending.id),
        email=False,
    )


def seed() -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    if admin is None:
        return
    for title, content, emails in ANNOUNCEMENTS:
        _seed_announcement(admin, title, content, emails)
    _seed_signup_notice()
    db.session.flush()
