"""Maintained aggregates of the report rows (app.reporting.rollups keeps them in step, in the same transaction).

Counts are plain integers and money is integer cents (exact on PostgreSQL and SQLite alike). Each
measure is keyed by the date its figure is charted by:
- `report day` (won date for a lead with a transaction, else created date): the current-state
  figures of report_totals (rows, stages, money by transaction status, fee settled);
- `created_*` by the lead's created date; `closed_*` by its stage date (won/lost leads only);
- `fee_settled_on_*` by the date the platform fee was settled to the super admin;
- `fee_ready` (by report day): outstanding fees that can be settled now (fee_queries.collectable).

The platform-wide table holds each figure per day, and again per week (Monday to Sunday) and per calendar
month (the sums of their days). A range reads its whole months (or weeks) from those rows, one per
category whatever the volume, and only the days of a month (week) it cuts from the day rows; "all time"
is the month rows alone.
"""

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.leads import STAGES

ALL_TIME = date(1, 1, 1)  # the partner rollup's "month" of each partner's all-time totals
NO_KEY = uuid.UUID(int=0)  # "no category" / "no partner": NULL would defeat the unique key and the upsert

MEASURES = (
    "rows",
    "lead_value",
    "active_leads",
    "won_leads",
    "lost_leads",
    "won_value",
    "transactions",
    "gross_commission",
    "platform_fee",
    "net_commission",
    "net_pending",
    "net_due",
    "net_paid",
    "due_count",
    "requested_count",
    "fee_settled",
    "fee_settled_count",
    "alloc_pending",
    "alloc_allocated",
    "created_leads",
    "closed_won",
    "closed_lost",
    "fee_settled_on",
    "fee_settled_on_count",
    "fee_ready",
    *(f"stage_{s}" for s in STAGES),
    *(f"stage_{s}_value" for s in STAGES),
)
MONEY_MEASURES = frozenset(
    ("lead_value", "won_value", "gross_commission", "platform_fee", "net_commission", "net_pending")
    + ("net_due", "net_paid", "fee_settled", "fee_settled_on")
    + tuple(f"stage_{s}_value" for s in STAGES)
)


class _Measures:
    """One BigInteger column per measure (filled in below), shared by both rollup tables."""


for _name in MEASURES:
    setattr(_Measures, _name, mapped_column(sa.BigInteger, nullable=False, default=0, server_default="0"))


DAY, WEEK, MONTH = "day", "week", "month"  # DailyRollup.period


class DailyRollup(_Measures, db.Model):
    """Platform-wide figures per category and day (period "day"), and the sums of those day rows per week
    (period "week", `day` = its Monday) and calendar month (period "month", `day` = its first day)."""

    __tablename__ = "rollup_daily"
    # The key leads with the period, so a range of month rows or of day rows is one index range.
    __table_args__ = (sa.UniqueConstraint("period", "day", "category_key", name="uq_rollup_daily_key"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    day: Mapped[date] = mapped_column(sa.Date, nullable=False)
    category_key: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)


class PartnerMonthlyRollup(_Measures, db.Model):
    """The same figures per calendar month and partner (the report row's partner), for CP dashboards and rankings.

    Each partner also has one row with month = ALL_TIME holding its totals over every month."""

    __tablename__ = "rollup_partner_monthly"
    __table_args__ = (
        sa.UniqueConstraint("cp_key", "month", name="uq_rollup_partner_monthly_key"),
        # Ranking partners: candidates in order of their all-time won value (the ALL_TIME rows), then
        # each candidate's months read by the unique (cp_key, month) key.
        sa.Index("ix_rollup_partner_monthly_ranking", "month", "won_value", "won_leads"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date, nullable=False)
    cp_key: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
