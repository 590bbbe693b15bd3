"""People who log in."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk, utcnow

ROLES = ("super_admin", "admin", "channel_partner")
USER_STATUSES = ("pending", "active", "suspended", "rejected")


def display_name(name: str | None, email: str) -> str:
    """How a person is named on pages: their name, else the part of their email before the @."""
    return name or email.split("@")[0]


class User(UserMixin, Timestamps, db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = pk()
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    role: Mapped[str] = mapped_column(enum(*ROLES, name="user_role"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(enum(*USER_STATUSES, name="user_status"), nullable=False, index=True)
    # True until the person has chosen a password (manual adds, staff invites: they get a set-password link).
    must_change_password: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # Set when the person opened a confirmation (or set-password, or reset) link sent to `email`.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    avatar_file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True, ondelete="SET NULL")
    # Bumped on suspension or password change; a session carrying an older value is ended.
    session_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # Event keys (see services.notifications.EVENTS) this user does not want by email.
    email_muted_events: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    # Text messages (SPEC 9.5): a mobile number in E.164, the person's opt-in, the events they want by SMS, and
    # when they replied STOP (which turns the opt-in off until they opt in again).
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    sms_opt_in: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    sms_events: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    sms_opted_out_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # Colour theme (issue 20): "auto" follows the system setting, "light" or "dark" is the person's choice.
    theme: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="auto", server_default="auto")
    # The IANA zone times are shown in (issue 20 item 9; app.web.times); None: not chosen yet, shown in UTC.
    timezone: Mapped[str | None] = mapped_column(sa.String(64))

    membership = relationship(
        "PartnerMember", back_populates="user", uselist=False, foreign_keys="PartnerMember.user_id"
    )

    @property
    def partner(self):
        """The partner this login works for (through its membership), or None."""
        membership = self.membership
        return membership.partner if membership is not None else None

    @property
    def member_role(self) -> str | None:
        """owner, manager or viewer for a partner's member; None for staff."""
        membership = self.membership
        return membership.role if membership is not None else None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        """May log in (Flask-Login): pending users may, to see the pending page; a partner's member only while
        the membership is active and the partner not suspended."""
        if self.status not in {"active", "pending"}:
            return False
        if not self.is_cp:
            return True
        membership = self.membership
        return membership is not None and membership.is_active and membership.partner.status != "suspended"

    @property
    def is_cp(self) -> bool:
        return self.role == "channel_partner"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_super(self) -> bool:
        return self.role == "super_admin"

    @property
    def is_staff(self) -> bool:
        return self.role in {"admin", "super_admin"}

    @property
    def display_name(self) -> str:
        return display_name(self.name, self.email)

    @property
    def initials(self) -> str:
        parts = [p for p in self.display_name.replace(".", " ").split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}/{self.status}>"


class UserSession(db.Model):
    """One login on one browser. The cookie names it; logging out (or a timeout) ends it here, on the server,
    so a copy of the cookie taken before is worth nothing afterwards."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = pk()
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
