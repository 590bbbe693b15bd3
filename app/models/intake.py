"""Lead intake (SPEC 9.2): category field schemas, scoring weights, double opt-in, referral visits,
bulk imports and origination credits."""

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import MONEY, Timestamps, enum, fk, pk, utcnow

FIELD_TYPES = ("text", "number", "email", "phone", "choice")
IMPORT_STATUSES = ("uploaded", "queued", "running", "done", "failed")
CREDIT_KINDS = ("approval", "won")
CREDIT_STATUSES = ("pending_approval", "approved", "rejected", "paid")


class CategoryField(db.Model):
    """One admin-defined field of a category's lead form, validated on every channel."""

    __tablename__ = "category_fields"
    __table_args__ = (sa.UniqueConstraint("category_id", "key"),)

    id: Mapped[uuid.UUID] = pk()
    category_id: Mapped[uuid.UUID] = fk("categories.id", ondelete="CASCADE")
    key: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    label: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    field_type: Mapped[str] = mapped_column(enum(*FIELD_TYPES, name="category_field_type"), nullable=False)
    required: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    choices: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    help_text: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    sort_order: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)


class IntakeSettings(db.Model):
    """The platform's one row of intake settings: score weights and the default origination credit."""

    __tablename__ = "intake_settings"
    __table_args__ = (
        sa.CheckConstraint(
            "weight_required + weight_additional + weight_qualification = 100", name="weights_total_100"
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, default=1)
    weight_required: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=30)
    weight_additional: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=40)
    weight_qualification: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=30)
    credit_on_approval: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0.00"))
    credit_percent_on_won: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), nullable=False, default=Decimal("0"))
    updated_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL", index=False)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class LeadConfirmation(db.Model):
    """The double opt-in link of a public or referral lead: only the token's SHA-256 is kept."""

    __tablename__ = "lead_confirmations"

    id: Mapped[uuid.UUID] = pk()
    lead_id: Mapped[uuid.UUID] = fk("leads.id", ondelete="CASCADE")
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    lead = relationship("Lead")


class ReferralVisit(db.Model):
    """A visit through a partner's referral link /r/<code>, with its campaign tags."""

    __tablename__ = "referral_visits"
    __table_args__ = (sa.Index("ix_referral_visits_partner_created", "partner_id", "created_at"),)

    id: Mapped[uuid.UUID] = pk()
    partner_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE", index=False)
    category_id: Mapped[uuid.UUID | None] = fk("categories.id", nullable=True, ondelete="SET NULL", index=False)
    utm_source: Mapped[str | None] = mapped_column(sa.String(100))
    utm_medium: Mapped[str | None] = mapped_column(sa.String(100))
    utm_campaign: Mapped[str | None] = mapped_column(sa.String(100))
    utm_term: Mapped[str | None] = mapped_column(sa.String(100))
    utm_content: Mapped[str | None] = mapped_column(sa.String(100))
    referrer_url: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)

    partner = relationship("ChannelPartner")
    category = relationship("Category")

    @property
    def utm(self) -> dict:
        names = ("source", "medium", "campaign", "term", "content")
        return {name: value for name in names if (value := getattr(self, f"utm_{name}"))}


class LeadImport(Timestamps, db.Model):
    """A CSV or XLSX file of leads: uploaded, mapped, then created by an RQ job that reports progress."""

    __tablename__ = "lead_imports"

    id: Mapped[uuid.UUID] = pk()
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    # Set when a partner imports: the leads are theirs (originated), under their quota.
    partner_id: Mapped[uuid.UUID | None] = fk("channel_partners.id", nullable=True, ondelete="CASCADE")
    category_id: Mapped[uuid.UUID | None] = fk("categories.id", nullable=True, ondelete="SET NULL")
    file_id: Mapped[uuid.UUID] = fk("stored_files.id", ondelete="CASCADE")
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    file_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    headers: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    mapping: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(
        enum(*IMPORT_STATUSES, name="lead_import_status"), nullable=False, default="uploaded", index=True
    )
    total_rows: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    processed_rows: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    duplicate_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rejected_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    skipped_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rejected_file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True, ondelete="SET NULL")
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    partner = relationship("ChannelPartner")
    category = relationship("Category")
    creator = relationship("User")
    file = relationship("StoredFile", foreign_keys=[file_id])
    rejected_file = relationship("StoredFile", foreign_keys=[rejected_file_id])

    @property
    def percent(self) -> int:
        return 100 if not self.total_rows else min(100, self.processed_rows * 100 // self.total_rows)


class OriginationCredit(Timestamps, db.Model):
    """Seed 001's lead credit: what an originating partner earns on approval or on Won; admins approve it."""

    __tablename__ = "origination_credits"
    __table_args__ = (
        sa.UniqueConstraint("lead_id", "kind"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[uuid.UUID] = pk()
    lead_id: Mapped[uuid.UUID] = fk("leads.id", ondelete="RESTRICT")
    partner_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")
    kind: Mapped[str] = mapped_column(enum(*CREDIT_KINDS, name="credit_kind"), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    basis: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    status: Mapped[str] = mapped_column(
        enum(*CREDIT_STATUSES, name="credit_status"), nullable=False, default="pending_approval", index=True
    )
    decided_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL", index=False)
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    reason: Mapped[str | None] = mapped_column(sa.Text)

    lead = relationship("Lead")
    partner = relationship("ChannelPartner")
    decider = relationship("User")
