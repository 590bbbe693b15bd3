"""Leads, their notes, activity history and evidence."""

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import MONEY, Timestamps, enum, fk, money, pk, utcnow

STAGES = ("new", "contacted", "qualified", "proposal", "negotiation", "won", "lost")
STAGE_LABELS = {
    "new": "New",
    "contacted": "Contacted",
    "qualified": "Qualified",
    "proposal": "Proposal",
    "negotiation": "Negotiation",
    "won": "Won",
    "lost": "Lost",
}
ALLOCATION_STATUSES = ("pending", "allocated")
FEE_TYPES = ("percentage", "fixed")
EVIDENCE_TYPES = ("image", "pdf", "document")
# SPEC 9.2: where a lead came from, and where it stands before (and after) it reaches a partner.
CHANNELS = ("portal", "public_form", "referral", "import", "api", "admin")
CHANNEL_LABELS = {
    "portal": "Partner portal",
    "public_form": "Public form",
    "referral": "Referral link",
    "import": "Bulk import",
    "api": "API",
    "admin": "Admin entry",
}
INTAKE_STATUSES = ("pending_confirmation", "pending_review", "approved", "rejected", "distributed", "bad_lead")
INTAKE_LABELS = {
    "pending_confirmation": "Awaiting confirmation",
    "pending_review": "Awaiting review",
    "approved": "Approved",
    "rejected": "Rejected",
    "distributed": "Distributed",
    "bad_lead": "Bad lead",
}
# Leads in these states are not "live": they never make a newer lead a possible duplicate.
DEAD_INTAKE_STATUSES = ("pending_confirmation", "rejected", "bad_lead")


class Lead(Timestamps, db.Model):
    __tablename__ = "leads"
    __table_args__ = (
        sa.Index("ix_leads_allocated_to_stage", "allocated_to", "kanban_stage"),
        # The API's lead list of a partner (and the staff filter by partner): its assigned leads, newest first.
        sa.Index("ix_leads_assignee_created", "allocated_to", "created_at", "id"),
        sa.Index("ix_leads_stage_updated", "kanban_stage", "updated_at"),
        # The admin/super lead lists filtered by category (and stage), newest first, and their counts.
        sa.Index("ix_leads_category_stage_updated", "category_id", "kanban_stage", "updated_at"),
        # The admin lead list: newest first over every lead, and filtered by allocation status and stage.
        sa.Index("ix_leads_updated_at", "updated_at"),
        sa.Index("ix_leads_allocation_stage_updated", "allocation_status", "kanban_stage", "updated_at"),
        # A partner's kanban: each column's newest cards, and its count and value total (index-only).
        sa.Index(
            "ix_leads_assignee_stage_updated",
            "allocated_to",
            "kanban_stage",
            "updated_at",
            postgresql_include=["lead_value"],
        ),
        # Duplicate detection (app/leads/duplicates.py): the newest lead with this email or phone.
        sa.Index("ix_leads_email_normalized_created", "email_normalized", "created_at"),
        sa.Index("ix_leads_phone_e164_created", "phone_e164", "created_at"),
        # The review queue, best score first; and the originator's monthly count (quota).
        sa.Index("ix_leads_intake_score", "intake_status", "quality_score", "created_at"),
        sa.Index("ix_leads_originated_created", "originated_by", "created_at"),
        # Rarely set: partial indexes, so deleting a lead (or a user) finds what points at it without a scan.
        sa.Index(
            "ix_leads_duplicate_of_id",
            "duplicate_of_id",
            postgresql_where=sa.text("duplicate_of_id IS NOT NULL"),
            sqlite_where=sa.text("duplicate_of_id IS NOT NULL"),
        ),
        sa.Index(
            "ix_leads_reviewed_by",
            "reviewed_by",
            postgresql_where=sa.text("reviewed_by IS NOT NULL"),
            sqlite_where=sa.text("reviewed_by IS NOT NULL"),
        ),
        # SPEC 9.2 invariant: no lead is past pending_confirmation without having been confirmed.
        sa.CheckConstraint(
            "intake_status = 'pending_confirmation' OR confirmed_at IS NOT NULL",
            name="confirmed_before_review",
        ),
    )

    id: Mapped[uuid.UUID] = pk()
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    category_id: Mapped[uuid.UUID | None] = fk("categories.id", nullable=True, ondelete="SET NULL")
    originated_by: Mapped[uuid.UUID | None] = fk(
        "channel_partners.id", nullable=True, ondelete="SET NULL", index=False
    )  # indexed by ix_leads_originated_created
    allocated_to: Mapped[uuid.UUID | None] = fk("channel_partners.id", nullable=True, ondelete="SET NULL", index=False)
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    allocation_status: Mapped[str] = mapped_column(
        enum(*ALLOCATION_STATUSES, name="allocation_status"), nullable=False, default="pending", index=True
    )
    kanban_stage: Mapped[str] = mapped_column(enum(*STAGES, name="kanban_stage"), nullable=False, default="new")
    contact_name: Mapped[str | None] = mapped_column(sa.String(120))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    contact_company: Mapped[str | None] = mapped_column(sa.String(200))
    # Structured contact data (SPEC 9.2); contact_name above is "first last", kept for lists and exports.
    first_name: Mapped[str | None] = mapped_column(sa.String(80))
    last_name: Mapped[str | None] = mapped_column(sa.String(80))
    job_title: Mapped[str | None] = mapped_column(sa.String(120))
    industry: Mapped[str | None] = mapped_column(sa.String(120))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    lead_type: Mapped[str | None] = mapped_column(sa.String(20))
    budget: Mapped[str | None] = mapped_column(sa.String(20))
    timeline: Mapped[str | None] = mapped_column(sa.String(20))
    custom_fields: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    email_normalized: Mapped[str | None] = mapped_column(sa.String(254))
    phone_e164: Mapped[str | None] = mapped_column(sa.String(20))
    quality_score: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False, default=0, server_default="0")
    score_breakdown: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    # Intake (SPEC 9.2): the channel, the state before distribution, review and confirmation.
    channel: Mapped[str] = mapped_column(
        enum(*CHANNELS, name="lead_channel"), nullable=False, default="admin", server_default="admin"
    )
    intake_status: Mapped[str] = mapped_column(
        enum(*INTAKE_STATUSES, name="intake_status"),
        nullable=False,
        default="pending_review",
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    duplicate_of_id: Mapped[uuid.UUID | None] = fk("leads.id", nullable=True, ondelete="SET NULL", index=False)
    reviewed_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL", index=False)
    # (both indexed by partial indexes above)
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Referral attribution and campaign tags, kept as they arrived.
    referral_visit_id: Mapped[uuid.UUID | None] = fk(
        "referral_visits.id", nullable=True, ondelete="SET NULL", index=True
    )
    referrer_url: Mapped[str | None] = mapped_column(sa.String(500))
    utm: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    import_id: Mapped[uuid.UUID | None] = fk("lead_imports.id", nullable=True, ondelete="SET NULL", index=True)
    # What makes a repeated submission the same one (an import row, an API idempotency key): unique when set.
    intake_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    lead_value: Mapped[Decimal | None] = money()
    commission_amount: Mapped[Decimal | None] = money()
    fee_override_type: Mapped[str | None] = mapped_column(enum(*FEE_TYPES, name="lead_fee_override_type"))
    fee_override_value: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    platform_fee_amount: Mapped[Decimal | None] = money()
    net_commission: Mapped[Decimal | None] = money()
    fee_capped: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    lost_reason: Mapped[str | None] = mapped_column(sa.Text)
    stage_changed_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    # Optimistic concurrency: a save carries the version it was read at; a stale save is refused.
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    category = relationship("Category")
    originator = relationship("ChannelPartner", foreign_keys=[originated_by])
    assignee = relationship("ChannelPartner", foreign_keys=[allocated_to])
    duplicate_of = relationship("Lead", remote_side="Lead.id", foreign_keys=[duplicate_of_id])
    reviewer = relationship("User", foreign_keys=[reviewed_by])
    referral_visit = relationship("ReferralVisit")
    lead_import = relationship("LeadImport")
    evidence = relationship("LeadEvidence", order_by="LeadEvidence.created_at", cascade="all, delete-orphan")
    notes = relationship("LeadNote", order_by="LeadNote.created_at.desc()", cascade="all, delete-orphan")
    activity = relationship("LeadActivity", order_by="LeadActivity.created_at.desc()", cascade="all, delete-orphan")

    @property
    def has_fee_override(self) -> bool:
        return self.fee_override_type is not None and self.fee_override_value is not None

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS[self.kanban_stage]

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS[self.channel]

    @property
    def intake_label(self) -> str:
        return INTAKE_LABELS[self.intake_status]

    @property
    def may_be_allocated(self) -> bool:
        """Only approved leads reach a partner (SPEC 9.2); a distributed one may be re-allocated."""
        return self.intake_status in ("approved", "distributed")


class LeadNote(db.Model):
    __tablename__ = "lead_notes"

    id: Mapped[uuid.UUID] = pk()
    lead_id: Mapped[uuid.UUID] = fk("leads.id", ondelete="CASCADE")
    author_id: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)

    author = relationship("User")


class LeadActivity(db.Model):
    __tablename__ = "lead_activity"

    id: Mapped[uuid.UUID] = pk()
    lead_id: Mapped[uuid.UUID] = fk("leads.id", ondelete="CASCADE")
    actor_id: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    action: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    detail: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, index=True)

    actor = relationship("User")


class LeadEvidence(db.Model):
    __tablename__ = "lead_evidence"

    id: Mapped[uuid.UUID] = pk()
    lead_id: Mapped[uuid.UUID] = fk("leads.id", ondelete="CASCADE")
    file_id: Mapped[uuid.UUID] = fk("stored_files.id", ondelete="CASCADE")
    file_type: Mapped[str] = mapped_column(enum(*EVIDENCE_TYPES, name="evidence_type"), nullable=False)
    uploaded_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    description: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)

    file = relationship("StoredFile")


__all__ = ["Lead", "LeadNote", "LeadActivity", "LeadEvidence", "MONEY"]
