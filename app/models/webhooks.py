"""Outbound webhooks a partner configures, and the log of their deliveries (SPEC 9.5)."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedText
from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk, utcnow

# The events a partner may subscribe to; the marketplace's and payouts' events join this list later.
WEBHOOK_EVENTS = {
    "lead.assigned": "A lead was assigned to you",
    "lead.stage_changed": "A lead you work changed stage",
    "lead.approved": "A lead you submitted was approved",
    "lead.rejected": "A lead you submitted was rejected",
    "commission.settled": "A commission was settled to you",
}
DELIVERY_STATUSES = ("pending", "sending", "delivered", "failed")


class WebhookEndpoint(Timestamps, db.Model):
    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = pk()
    partner_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")
    url: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    description: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    events: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    # The signing secret: encrypted at rest, shown to the partner's owners and managers to verify signatures.
    secret: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")

    partner = relationship("ChannelPartner")


class WebhookDelivery(db.Model):
    """One event for one endpoint, written in the transaction of what caused it (an outbox): the job that posts
    it is enqueued after the commit. `event_id` is the event's own id (the same for every endpoint), sent as
    X-LeadFlow-Delivery with `id`, so a receiver can drop a repeat."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = pk()
    endpoint_id: Mapped[uuid.UUID] = fk("webhook_endpoints.id", ondelete="CASCADE", index=False)
    event: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    payload: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    status: Mapped[str] = mapped_column(enum(*DELIVERY_STATUSES, name="webhook_delivery_status"), nullable=False)
    is_test: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    response_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))

    endpoint = relationship("WebhookEndpoint")


class WebhookAttempt(db.Model):
    """One POST of a delivery: when, the answer's status code (or the error), how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = pk()
    delivery_id: Mapped[uuid.UUID] = fk("webhook_deliveries.id", ondelete="CASCADE")
    started_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    response_code: Mapped[int | None] = mapped_column(sa.Integer)
    duration_ms: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(sa.String(500))
