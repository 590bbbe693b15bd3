"""A partner's people: members with a role, and the invitations that make new ones."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import enum, fk, pk, utcnow

MEMBER_ROLES = ("owner", "manager", "viewer")
MEMBER_STATUSES = ("active", "deactivated")


class PartnerMember(db.Model):
    """One login's place in one partner. A user belongs to at most one partner (unique user_id)."""

    __tablename__ = "partner_members"

    id: Mapped[uuid.UUID] = pk()
    partner_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", unique=True)
    role: Mapped[str] = mapped_column(enum(*MEMBER_ROLES, name="member_role"), nullable=False)
    status: Mapped[str] = mapped_column(enum(*MEMBER_STATUSES, name="member_status"), nullable=False, default="active")
    invited_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL", index=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    # Loaded with the user on every request (app/accounts/sessions.load_user): no query of its own.
    partner = relationship("ChannelPartner", lazy="joined", innerjoin=True)
    user = relationship("User", foreign_keys=[user_id], back_populates="membership")

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class PartnerInvite(db.Model):
    """An emailed invitation: the link's token is never stored, only its SHA-256."""

    __tablename__ = "partner_invites"

    id: Mapped[uuid.UUID] = pk()
    partner_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    role: Mapped[str] = mapped_column(enum(*MEMBER_ROLES, name="member_role"), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_by: Mapped[uuid.UUID] = fk("users.id", index=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    accepted_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, index=False)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    partner = relationship("ChannelPartner")
    inviter = relationship("User", foreign_keys=[created_by])

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= utcnow() else "open"
