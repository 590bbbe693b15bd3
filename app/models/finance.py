"""Money: commission transactions, platform-fee settlements, CP payments, Stripe events."""

import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import MONEY, Timestamps, enum, fk, pk, utcnow
from app.models.leads import FEE_TYPES

TX_STATUSES = ("pending", "due", "paid", "void")
FEE_SOURCES = ("global", "override")
PAYMENT_METHODS = ("card", "bank_transfer")
PAYMENT_STATUSES = ("pending", "completed", "failed")


class CommissionTransaction(Timestamps, db.Model):
    __tablename__ = "commission_transactions"
    __table_args__ = (
        # Rounded to cents: exact on PostgreSQL NUMERIC; on SQLite, which stores these as floats, 3.49 + 31.42
        # is not exactly 34.91 and an unrounded comparison would refuse correct amounts.
        sa.CheckConstraint("round(gross_commission - platform_fee - net_commission, 2) = 0", name="amounts_reconcile"),
        sa.Index("ix_commission_transactions_cp_status", "cp_id", "status"),
        # The outstanding-fee lists (newest or oldest win first) and "ready to settle" counts walk these
        # small partial indexes instead of anti-joining every transaction with the settlement items.
        # It carries the fee, so the overdue total of the cutoff's day is an index-only sum.
        sa.Index(
            "ix_commission_transactions_fee_outstanding",
            "won_at",
            "id",
            postgresql_include=["platform_fee"],
            postgresql_where=sa.text("fee_settled_at IS NULL AND status <> 'void'"),
            sqlite_where=sa.text("fee_settled_at IS NULL AND status <> 'void'"),
        ),
        sa.Index(
            "ix_commission_transactions_fee_collectable",
            "won_at",
            "client_paid_cp_directly",
            "id",
            postgresql_where=sa.text("fee_settled_at IS NULL AND status = 'paid'"),
            sqlite_where=sa.text("fee_settled_at IS NULL AND status = 'paid'"),
        ),
        # The admin dashboard's outstanding commissions, oldest client payment first.
        sa.Index(
            "ix_commission_transactions_due_client_paid",
            "client_paid_at",
            "lead_id",
            postgresql_where=sa.text("status = 'due'"),
            sqlite_where=sa.text("status = 'due'"),
        ),
    )

    id: Mapped[uuid.UUID] = pk()
    lead_id: Mapped[uuid.UUID] = fk("leads.id", ondelete="CASCADE", unique=True)
    cp_id: Mapped[uuid.UUID] = fk("channel_partners.id", index=False)
    gross_commission: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0.00"))
    platform_fee: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0.00"))
    net_commission: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0.00"))
    lead_value: Mapped[Decimal | None] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(enum(*TX_STATUSES, name="tx_status"), nullable=False, index=True)
    # Snapshot of the fee rule used (SPEC 2.4).
    fee_rule_type: Mapped[str] = mapped_column(enum(*FEE_TYPES, name="tx_fee_rule_type"), nullable=False)
    fee_rule_value: Mapped[Decimal] = mapped_column(sa.Numeric(14, 4), nullable=False)
    fee_rule_source: Mapped[str] = mapped_column(enum(*FEE_SOURCES, name="fee_rule_source"), nullable=False)
    fee_config_id: Mapped[uuid.UUID | None] = fk("platform_fee_config.id", nullable=True)
    fee_capped: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    won_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, index=True)
    client_paid_at: Mapped[date | None] = mapped_column(sa.Date)
    client_payment_reference: Mapped[str | None] = mapped_column(sa.String(120))
    client_payment_file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True)
    client_paid_cp_directly: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    settlement_requested_at: Mapped[datetime | None] = mapped_column(sa.DateTime, index=True)
    bank_slip_file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True)
    settlement_reference: Mapped[str | None] = mapped_column(sa.String(120))
    settlement_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    settled_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(sa.DateTime, index=True)
    voided_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # Denormalised from the fee's settlement (set in the same flush as its PlatformFeeSettlementItem by
    # app.reporting.rollups); the unique item per transaction stays the guarantee against settling twice.
    fee_settled_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    lead = relationship("Lead")
    partner = relationship("ChannelPartner")
    bank_slip = relationship("StoredFile", foreign_keys=[bank_slip_file_id])
    client_payment_file = relationship("StoredFile", foreign_keys=[client_payment_file_id])
    settler = relationship("User", foreign_keys=[settled_by])
    fee_settlement_item = relationship("PlatformFeeSettlementItem", uselist=False, back_populates="transaction")


class PlatformFeeSettlement(db.Model):
    __tablename__ = "platform_fee_settlements"

    id: Mapped[uuid.UUID] = pk()
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    lead_count: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    settled_by: Mapped[uuid.UUID] = fk("users.id")
    bank_slip_file_id: Mapped[uuid.UUID] = fk("stored_files.id")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    # The form's one-time key: a double submission finds the first settlement instead of making a second.
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    settled_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, index=True)

    settler = relationship("User")
    bank_slip = relationship("StoredFile")
    items = relationship("PlatformFeeSettlementItem", back_populates="settlement", cascade="all, delete-orphan")


class PlatformFeeSettlementItem(db.Model):
    """Links one commission transaction's fee to one settlement; the unique constraint means: ever."""

    __tablename__ = "platform_fee_settlement_items"

    id: Mapped[uuid.UUID] = pk()
    settlement_id: Mapped[uuid.UUID] = fk("platform_fee_settlements.id", ondelete="CASCADE")
    transaction_id: Mapped[uuid.UUID] = fk("commission_transactions.id", unique=True)
    lead_id: Mapped[uuid.UUID | None] = fk("leads.id", nullable=True, ondelete="SET NULL")
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)

    settlement = relationship("PlatformFeeSettlement", back_populates="items")
    transaction = relationship("CommissionTransaction", back_populates="fee_settlement_item")
    lead = relationship("Lead")


class CpPayment(Timestamps, db.Model):
    """A CP paying the platform fee it owes when the client paid the CP directly (SPEC 2.8)."""

    __tablename__ = "cp_payments"

    id: Mapped[uuid.UUID] = pk()
    commission_tx_id: Mapped[uuid.UUID] = fk("commission_transactions.id")
    cp_id: Mapped[uuid.UUID] = fk("channel_partners.id")
    payment_method: Mapped[str] = mapped_column(enum(*PAYMENT_METHODS, name="payment_method"), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    status: Mapped[str] = mapped_column(enum(*PAYMENT_STATUSES, name="payment_status"), nullable=False, index=True)
    receipt_file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    stripe_payment_id: Mapped[str | None] = mapped_column(sa.String(255))
    reviewed_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True)
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # A card payment completed at Stripe after it stopped being the live one (replaced, or the fee already
    # paid): it never counts; its money goes back through a Stripe refund, or an admin is asked to act.
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(255))
    refunded_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    needs_review: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false(), index=True
    )

    transaction = relationship("CommissionTransaction")
    partner = relationship("ChannelPartner")
    receipt = relationship("StoredFile")


class StripeEvent(db.Model):
    """Each Stripe event id is processed once."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
