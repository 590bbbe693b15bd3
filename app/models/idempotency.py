"""Idempotency keys: one row per form submission that went through, so that its twins are answered, not repeated."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import fk, pk, utcnow


class IdempotencyKey(db.Model):
    """A form's key (rendered into the form, app/idempotency.py), claimed in the same transaction as what the form
    creates. The unique (user_id, key) index is what makes concurrent twins wait for the first and then see it."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    id: Mapped[uuid.UUID] = pk()
    # Indexed by the unique constraint, whose first column it is.
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", index=False)
    key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    endpoint: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    request_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, index=True)
    # Set once the first submission has answered: its status, the headers that matter and the body (or none).
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    response: Mapped[dict | None] = mapped_column(sa.JSON)
