"""The public API's credentials: API keys, and the user tokens' families of rotating refresh tokens (SPEC 9.5)."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import fk, pk, utcnow

# What a key may be used for. A key also never does more than the user it acts for may do.
SCOPES = {
    "leads:read": "Read leads",
    "leads:write": "Create and work leads",
    "leads:trusted": "Leads enter approved, without review (trusted supplier; staff grant it)",
    "catalog:read": "Read categories and their fields",
    "money:read": "Read commissions, settlements and platform fees",
    "money:write": "Settle commissions and platform fees (staff)",
    "notifications:read": "Read notifications",
    "notifications:write": "Mark notifications read",
    "partners:read": "Read partners and members",
    "partners:write": "Change partners and members",
    "analytics:read": "Read analytics (super admin)",
}
STAFF_ONLY_SCOPES = ("leads:trusted",)


class ApiKey(db.Model):
    """An API key: shown once, stored as its SHA-256 (the key is 256 random bits, so no slow hash is needed),
    found by that hash; `prefix` is the part shown on pages to tell keys apart. It acts for `user_id` (a member
    of `partner_id`), within its scopes; revoking it takes effect on the next request."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = pk()
    name: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    prefix: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    scopes: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    partner_id: Mapped[uuid.UUID | None] = fk("channel_partners.id", nullable=True, ondelete="CASCADE")
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE")
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    revoked_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")

    user = relationship("User", foreign_keys=[user_id])
    partner = relationship("ChannelPartner", foreign_keys=[partner_id])

    @property
    def trusted(self) -> bool:
        return "leads:trusted" in (self.scopes or [])


class ApiTokenFamily(db.Model):
    """One sign-in through POST /api/v1/auth/token: its access tokens name it, and its refresh tokens rotate
    inside it. Revoked as a whole when a rotated refresh token is used again (it was stolen) or on sign-out."""

    __tablename__ = "api_token_families"

    id: Mapped[uuid.UUID] = pk()
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))


class ApiRefreshToken(db.Model):
    """A refresh token (its SHA-256): usable once; using it marks it used and issues the next one."""

    __tablename__ = "api_refresh_tokens"

    id: Mapped[uuid.UUID] = pk()
    family_id: Mapped[uuid.UUID] = fk("api_token_families.id", ondelete="CASCADE")
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    family = relationship("ApiTokenFamily")
