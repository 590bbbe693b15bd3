"""Categories, their images and order, and partners' content per category (draft → submitted → reviewed).

One content row per partner and category. Editing approved or rejected content puts it back to
draft, so the showcase only ever shows what an admin approved.
"""

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from app.audit import trail as audit
from app.comms.notifications import notify
from app.errors import Refused
from app.extensions import db
from app.files import storage
from app.models import Category, CategoryImage, ChannelPartner, ContentImage, CpCategoryContent, Lead
from app.models.base import utcnow
from app.partners.members import active_users

IMAGES = ("image",)
MAX_IMAGES = 12


class CatalogError(Refused):
    """An action refused by a catalog rule; the message is shown to the user."""


# --- categories --------------------------------------------------------------------------------


def category_statement(active_only: bool = False) -> sa.Select:
    """Every category, or only the published ones (the showcase, and what a partner may see); unordered."""
    stmt = sa.select(Category)
    if active_only:
        stmt = stmt.where(Category.is_active.is_(True))
    return stmt


def categories(active_only: bool = False) -> list[Category]:
    stmt = category_statement(active_only).options(selectinload(Category.images))
    return list(db.session.scalars(stmt.order_by(Category.sort_order, Category.name)))


def leads_using(category: Category) -> int:
    return db.session.scalar(sa.select(sa.func.count(Lead.id)).where(Lead.category_id == category.id)) or 0


def _name_taken(name: str, exclude=None) -> bool:
    stmt = sa.select(Category.id).where(sa.func.lower(Category.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(Category.id != exclude.id)
    return db.session.scalar(stmt) is not None


def create_category(name: str, description: str, *, actor) -> Category:
    """A new category, last in the order, active."""
    name = name.strip()
    if _name_taken(name):
        raise CatalogError("A category with this name already exists.")
    last = db.session.scalar(sa.select(sa.func.max(Category.sort_order))) or 0
    category = Category(name=name, description=description.strip(), sort_order=last + 1, created_by=actor.id)
    db.session.add(category)
    db.session.flush()
    audit.record(actor, "category.created", category, after={"name": name})
    return category


def update_category(category: Category, name: str, description: str, *, actor) -> Category:
    name = name.strip()
    if _name_taken(name, exclude=category):
        raise CatalogError("A category with this name already exists.")
    before = audit.snapshot(category, "name", "description")
    category.name, category.description = name, description.strip()
    db.session.flush()
    audit.record(actor, "category.updated", category, before, audit.snapshot(category, "name", "description"))
    return category


def set_active(category: Category, active: bool, *, actor) -> Category:
    """Publish (active) or hide a category from the showcase and the lead forms."""
    if category.is_active != active:
        category.is_active = active
        audit.record(actor, "category.published" if active else "category.unpublished", category)
        db.session.flush()
    return category


def delete_category(category: Category, *, actor) -> None:
    """Delete a category no lead uses; otherwise refuse (deactivate it instead)."""
    used = leads_using(category)
    if used:
        raise CatalogError(f"{used} lead(s) use this category, so it cannot be deleted. Deactivate it instead.")
    files = [image.file for image in category.images]
    audit.record(actor, "category.deleted", category, before={"name": category.name})
    db.session.delete(category)
    db.session.flush()
    for stored in files:
        storage.delete(stored)


def _swap(rows: list, row, direction: str) -> None:
    """Move `row` one place up or down among `rows` (sorted), renumbering them 0..n."""
    index = rows.index(row)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(rows):
        rows[index], rows[target] = rows[target], rows[index]
    for position, item in enumerate(rows):
        item.sort_order = position


def move_category(category: Category, direction: str, *, actor) -> None:
    _swap(categories(), category, direction)
    db.session.flush()


# --- category images ---------------------------------------------------------------------------


def add_category_image(category: Category, upload, *, actor) -> CategoryImage:
    if len(category.images) >= MAX_IMAGES:
        raise CatalogError(f"A category holds at most {MAX_IMAGES} images.")
    stored = storage.save_upload(upload, "category_image", actor=actor, allowed=IMAGES)
    image = CategoryImage(category_id=category.id, file_id=stored.id, sort_order=len(category.images))
    category.images.append(image)
    db.session.flush()
    return image


def remove_category_image(image: CategoryImage, *, actor) -> None:
    category = db.session.get(Category, image.category_id)
    stored = image.file
    category.images.remove(image)
    db.session.flush()
    storage.delete(stored)
    for position, item in enumerate(category.images):
        item.sort_order = position


def move_category_image(image: CategoryImage, direction: str, *, actor) -> None:
    category = db.session.get(Category, image.category_id)
    _swap(list(category.images), image, direction)
    db.session.flush()
    db.session.expire(category, ["images"])


# --- partners' content -------------------------------------------------------------------------


def content_for(partner: ChannelPartner) -> dict:
    """This partner's content rows by category id."""
    rows = db.session.scalars(sa.select(CpCategoryContent).where(CpCategoryContent.cp_id == partner.id))
    return {row.category_id: row for row in rows}


def save_content(partner: ChannelPartner, category: Category, description: str, *, actor) -> CpCategoryContent:
    """Write the partner's description for a category as a draft (back to draft if it was reviewed)."""
    content = content_for(partner).get(category.id)
    if content is None:
        content = CpCategoryContent(cp_id=partner.id, category_id=category.id, status="draft")
        db.session.add(content)
    elif content.status == "submitted":
        raise CatalogError("This content is waiting for review; it can be changed once it is reviewed.")
    content.description = description.strip()
    content.status = "draft"
    db.session.flush()
    return content


def _editable(content: CpCategoryContent) -> None:
    if content.status == "submitted":
        raise CatalogError("This content is waiting for review; it can be changed once it is reviewed.")
    content.status = "draft"


def add_content_image(content: CpCategoryContent, upload, *, actor) -> ContentImage:
    _editable(content)
    if len(content.images) >= MAX_IMAGES:
        raise CatalogError(f"Content holds at most {MAX_IMAGES} images.")
    stored = storage.save_upload(upload, "content_image", actor=actor, cp_id=content.cp_id, allowed=IMAGES)
    image = ContentImage(content_id=content.id, file_id=stored.id, sort_order=len(content.images))
    content.images.append(image)
    db.session.flush()
    return image


def remove_content_image(content: CpCategoryContent, image: ContentImage, *, actor) -> None:
    _editable(content)
    stored = image.file
    content.images.remove(image)
    db.session.flush()
    storage.delete(stored)


def submit_content(content: CpCategoryContent, *, actor) -> CpCategoryContent:
    """Send a draft for review."""
    if content.status != "draft":
        raise CatalogError("Only a draft can be submitted for review.")
    if not content.description.strip():
        raise CatalogError("Write a description before submitting.")
    content.status, content.submitted_at = "submitted", utcnow()
    content.review_note = None
    audit.record(actor, "content.submitted", content, {"status": "draft"}, {"status": "submitted"})
    db.session.flush()
    return content


def review_content(content: CpCategoryContent, approve: bool, note: str, *, actor) -> CpCategoryContent:
    """Approve (publish) or reject with a note; the partner is told either way."""
    if content.status != "submitted":
        raise CatalogError("This content is not waiting for review.")
    note = (note or "").strip()
    if not approve and not note:
        raise CatalogError("Say why the content is rejected, so the partner can fix it.")
    outcome = "approved" if approve else "rejected"
    content.status, content.review_note = outcome, note or None
    content.reviewed_by, content.reviewed_at = actor.id, utcnow()
    audit.record(actor, f"content.{outcome}", content, {"status": "submitted"}, {"status": outcome, "note": note})
    partner = db.session.get(ChannelPartner, content.cp_id)
    category = db.session.get(Category, content.category_id)
    notify(
        active_users(partner),
        "content_reviewed",
        category=category.name,
        outcome=outcome,
        reference=("cp", partner.id),
        link=url_for("cp.profile", _anchor="content"),
    )
    db.session.flush()
    return content


def to_review() -> list[CpCategoryContent]:
    stmt = (
        sa.select(CpCategoryContent)
        .options(selectinload(CpCategoryContent.images), selectinload(CpCategoryContent.partner))
        .where(CpCategoryContent.status == "submitted")
        .order_by(CpCategoryContent.submitted_at)
    )
    return list(db.session.scalars(stmt))


def published_content() -> dict:
    """Approved content of approved partners, by category id (for the showcase)."""
    stmt = (
        sa.select(CpCategoryContent)
        .join(ChannelPartner, ChannelPartner.id == CpCategoryContent.cp_id)
        .options(selectinload(CpCategoryContent.images), selectinload(CpCategoryContent.partner))
        .where(CpCategoryContent.status == "approved", ChannelPartner.status == "approved")
        .order_by(ChannelPartner.company_name)
    )
    grouped: dict = {}
    for row in db.session.scalars(stmt):
        grouped.setdefault(row.category_id, []).append(row)
    return grouped
