"""A partner's own commission goal (issue #20 item 4): an amount per month, quarter or year, shown with progress."""

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import MONEY, enum, fk, pk, utcnow

GOAL_PERIODS = ("month", "quarter", "year")


class PartnerGoal(db.Model):
    """At most one goal per partner (unique partner_id): gross commission to earn in each month, quarter or year."""

    __tablename__ = "partner_goals"

    id: Mapped[uuid.UUID] = pk()
    partner_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE", unique=True)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    period: Mapped[str] = mapped_column(enum(*GOAL_PERIODS, name="goal_period"), nullable=False)
    set_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.CheckConstraint("amount > 0", name="ck_partner_goals_amount_positive"),)
