"""Announcements, in-app notifications and the email outbox."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk, utcnow

NOTIFICATION_TYPES = ("lead", "commission", "approval", "announcement", "system")
REFERENCE_TYPES = ("lead", "commission", "cp", "announcement", "payment", "settlement", "lead_import")
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed")


class Announcement(Timestamps, db.Model):
    __tablename__ = "announcements"

    id: Mapped[uuid.UUID] = pk()
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    content: Mapped[str] = mapped_column(sa.Text, nullable=False)
    target_type: Mapped[str] = mapped_column(enum("all", "specific", name="announcement_target"), nullable=False)
    send_email: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime, index=True)

    author = relationship("User")
    targets = relationship("AnnouncementTarget", cascade="all, delete-orphan")


class AnnouncementTarget(db.Model):
    __tablename__ = "announcement_targets"
    __table_args__ = (sa.UniqueConstraint("announcement_id", "cp_id", name="uq_announcement_targets_pair"),)

    id: Mapped[uuid.UUID] = pk()
    announcement_id: Mapped[uuid.UUID] = fk("announcements.id", ondelete="CASCADE")
    cp_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")

    partner = relationship("ChannelPartner")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_unread", "user_id", "is_read"),
        sa.Index("ix_notifications_user_created", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = pk()
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", index=False)
    type: Mapped[str] = mapped_column(enum(*NOTIFICATION_TYPES, name="notification_type"), nullable=False)
    event: Mapped[str] = mapped_column(sa.String(40), nullable=False, index=True)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    message: Mapped[str] = mapped_column(sa.Text, nullable=False)
    link: Mapped[str | None] = mapped_column(sa.String(300))
    is_read: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    reference_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    reference_type: Mapped[str | None] = mapped_column(enum(*REFERENCE_TYPES, name="reference_type"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)


class EmailOutbox(Timestamps, db.Model):
    """One row per email to send; the job that sends it is safe to run twice."""

    __tablename__ = "email_outbox"

    id: Mapped[uuid.UUID] = pk()
    notification_id: Mapped[uuid.UUID | None] = fk("notifications.id", nullable=True, ondelete="SET NULL", unique=True)
    user_id: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    to_email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    template: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    context: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(enum(*OUTBOX_STATUSES, name="outbox_status"), nullable=False, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # The send in progress: set and committed before SMTP, so a send cut short is recognised on retry.
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))


SMS_STATUSES = ("queued", "sending", "sent", "failed", "skipped")


class SmsOutbox(Timestamps, db.Model):
    """One text message to send (SPEC 9.5 notification channels); sent by a job like the email outbox.
    `skipped` is a message not sent because its recipient opted out (STOP) before it went."""

    __tablename__ = "sms_outbox"

    id: Mapped[uuid.UUID] = pk()
    notification_id: Mapped[uuid.UUID | None] = fk("notifications.id", nullable=True, ondelete="SET NULL", unique=True)
    user_id: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    to_phone: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    body: Mapped[str] = mapped_column(sa.String(640), nullable=False)
    status: Mapped[str] = mapped_column(enum(*SMS_STATUSES, name="sms_status"), nullable=False, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    provider_id: Mapped[str | None] = mapped_column(sa.String(64))
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
