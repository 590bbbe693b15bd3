"""A user's second factor: the TOTP credential and its single-use recovery codes (SPEC §9.1, issue 17 item 7)."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.crypto import EncryptedText
from app.extensions import db
from app.models.base import fk, pk, utcnow


class MfaCredential(db.Model):
    """One TOTP secret per user. Pending (enabled_at is None) until the first code from the app confirms it.

    The secret is encrypted at rest (app/crypto.py). `last_used_step` is the 30-second time step of the last code
    accepted: a code of that step or an earlier one is refused, so a code seen over a shoulder cannot be replayed.
    """

    __tablename__ = "mfa_credentials"
    __table_args__ = (sa.UniqueConstraint("user_id", name="uq_mfa_credentials_user_id"),)

    id: Mapped[uuid.UUID] = pk()
    # Indexed by its unique constraint.
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", index=False)
    secret: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    enabled_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    last_used_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    @property
    def enabled(self) -> bool:
        return self.enabled_at is not None


class MfaRecoveryCode(db.Model):
    """One of a user's ten recovery codes, kept only as a SHA-256 digest; `used_at` is set once, when it is spent."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash", name="uq_mfa_recovery_codes_user_code"),)

    id: Mapped[uuid.UUID] = pk()
    # Indexed by the unique constraint, whose first column it is.
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", index=False)
    code_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
