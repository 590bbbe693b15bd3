"""One-time tokens behind emailed links: password reset, set-password (invites, manual adds), email confirmation."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import fk, pk, utcnow

TOKEN_PURPOSES = ("reset_password", "set_password", "confirm_email")


class OneTimeToken(db.Model):
    """A link's token, stored only as its SHA-256: the row proves a link is genuine, never reveals it.

    Spent by a conditional UPDATE of `used_at` (app/accounts/tokens.redeem), so two clicks cannot both win;
    `voided_at` is set when a newer token of the same purpose is issued to the same user.
    """

    __tablename__ = "one_time_tokens"
    __table_args__ = (sa.Index("ix_one_time_tokens_user_purpose", "user_id", "purpose"),)

    id: Mapped[uuid.UUID] = pk()
    # Indexed by ix_one_time_tokens_user_purpose, whose first column it is.
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", index=False)
    purpose: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    voided_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    user = relationship("User")
