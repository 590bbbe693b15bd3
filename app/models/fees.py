"""The global platform-fee rule and its history (rows are never edited, only superseded)."""

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import enum, fk, pk, utcnow
from app.models.leads import FEE_TYPES


class PlatformFeeConfig(db.Model):
    __tablename__ = "platform_fee_config"
    __table_args__ = (
        # At most one active rule, enforced by the database.
        sa.Index(
            "uq_platform_fee_config_one_active",
            "is_active",
            unique=True,
            postgresql_where=sa.text("is_active"),
            sqlite_where=sa.text("is_active"),
        ),
    )

    id: Mapped[uuid.UUID] = pk()
    fee_type: Mapped[str] = mapped_column(enum(*FEE_TYPES, name="fee_type"), nullable=False)
    fee_value: Mapped[Decimal] = mapped_column(sa.Numeric(14, 4), nullable=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    effective_from: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, index=True)
    notes: Mapped[str | None] = mapped_column(sa.Text)

    author = relationship("User")
