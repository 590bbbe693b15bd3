"""The marketing asset library (SPEC 9.6, issue 20 item 5): what admins publish and who downloaded it."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk, utcnow
from app.models.partners import TIERS

# (key, label); the files each type accepts are in app/enablement/assets_files.py.
ASSET_TYPES = (
    ("logo", "Logo"),
    ("banner", "Banner"),
    ("flyer", "Flyer"),
    ("email_template", "Email template"),
    ("proposal_template", "Proposal template"),
)
ASSET_TYPE_LABELS = dict(ASSET_TYPES)


class MarketingAsset(Timestamps, db.Model):
    __tablename__ = "marketing_assets"
    __table_args__ = (sa.CheckConstraint("download_count >= 0", name="ck_marketing_assets_download_count"),)

    id: Mapped[uuid.UUID] = pk()
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    asset_type: Mapped[str] = mapped_column(enum(*ASSET_TYPE_LABELS, name="asset_type"), nullable=False, index=True)
    category_id: Mapped[uuid.UUID | None] = fk("categories.id", nullable=True, ondelete="SET NULL")
    # The lowest partner tier that sees it (TIERS are in ascending order); bronze means every partner.
    min_tier: Mapped[str] = mapped_column(
        enum(*TIERS, name="asset_min_tier"), nullable=False, default="bronze", server_default="bronze", index=True
    )
    file_id: Mapped[uuid.UUID] = fk("stored_files.id")
    thumbnail_file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True, ondelete="SET NULL")
    # Every download (the file or its co-branded PDF), incremented in SQL so concurrent downloads all count.
    download_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=True, server_default=sa.true(), index=True
    )
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")

    file = relationship("StoredFile", foreign_keys=[file_id])
    thumbnail = relationship("StoredFile", foreign_keys=[thumbnail_file_id])
    category = relationship("Category")
    creator = relationship("User")

    @property
    def type_label(self) -> str:
        return ASSET_TYPE_LABELS[self.asset_type]


class AssetDownload(db.Model):
    """One download by one partner's member: the per-partner counts on the admin's asset page."""

    __tablename__ = "marketing_asset_downloads"

    id: Mapped[uuid.UUID] = pk()
    asset_id: Mapped[uuid.UUID] = fk("marketing_assets.id", ondelete="CASCADE")
    cp_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")
    user_id: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    cobranded: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, index=True)
