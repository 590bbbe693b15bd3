"""Categories of what partners sell, and partners' own content per category."""

import re
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk

CONTENT_STATUSES = ("draft", "submitted", "approved", "rejected")


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:120] or "category"


def _unique_slug(context) -> str:
    """A new category's slug from its name (kept when it is renamed: public links must not break)."""
    base = slugify(context.get_current_parameters()["name"])
    slug, n = base, 1
    while context.connection.scalar(sa.text("SELECT 1 FROM categories WHERE slug = :s"), {"s": slug}):
        n += 1
        slug = f"{base}-{n}"
    return slug


class Category(Timestamps, db.Model):
    __tablename__ = "categories"

    id: Mapped[uuid.UUID] = pk()
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False, unique=True)
    # The public request form's address, /request/<slug> (SPEC 9.2).
    slug: Mapped[str] = mapped_column(sa.String(140), nullable=False, unique=True, default=_unique_slug)
    accepts_public_requests: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=True, server_default=sa.true()
    )
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True, index=True)
    sort_order: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, index=True)
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")

    images = relationship("CategoryImage", order_by="CategoryImage.sort_order", cascade="all, delete-orphan")
    fields = relationship(
        "CategoryField", order_by="(CategoryField.sort_order, CategoryField.created_at)", cascade="all, delete-orphan"
    )


class CategoryImage(db.Model):
    __tablename__ = "category_images"

    id: Mapped[uuid.UUID] = pk()
    category_id: Mapped[uuid.UUID] = fk("categories.id", ondelete="CASCADE")
    file_id: Mapped[uuid.UUID] = fk("stored_files.id", ondelete="CASCADE")
    sort_order: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    file = relationship("StoredFile")


class CpCategoryContent(Timestamps, db.Model):
    __tablename__ = "cp_category_content"

    id: Mapped[uuid.UUID] = pk()
    cp_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")
    category_id: Mapped[uuid.UUID] = fk("categories.id", ondelete="CASCADE")
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(enum(*CONTENT_STATUSES, name="content_status"), nullable=False, index=True)
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    partner = relationship("ChannelPartner")
    category = relationship("Category")
    images = relationship("ContentImage", order_by="ContentImage.sort_order", cascade="all, delete-orphan")


class ContentImage(db.Model):
    __tablename__ = "content_images"

    id: Mapped[uuid.UUID] = pk()
    content_id: Mapped[uuid.UUID] = fk("cp_category_content.id", ondelete="CASCADE")
    file_id: Mapped[uuid.UUID] = fk("stored_files.id", ondelete="CASCADE")
    sort_order: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    file = relationship("StoredFile")
