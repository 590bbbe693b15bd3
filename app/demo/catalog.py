"""Demo categories with drawn images, partners' logos, and category content in every review state."""

import io
import random

import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont

from app.extensions import db
from app.files import storage
from app.models import Category, CategoryImage, ChannelPartner, ContentImage, CpCategoryContent, User
from app.models.base import utcnow

CATEGORIES = [
    ("Solar & Energy", ((250, 176, 5), (234, 88, 12)), "Rooftop solar, battery storage and energy audits for offices, "
     "warehouses and retail sites. Typical projects cut electricity bills by 30–60% and pay back in four to six years."),
    ("Managed IT Services", ((37, 99, 235), (15, 42, 74)), "24/7 helpdesk, device management, backups and security "
     "monitoring for teams of 10 to 500 people, on a fixed monthly fee per seat."),
    ("Cloud Migration", ((56, 189, 248), (30, 64, 175)), "Moving file servers, line-of-business apps and databases to "
     "the cloud with a fixed-price assessment, a pilot and a staged cut-over that keeps the business running."),
    ("Commercial Security", ((71, 85, 105), (15, 23, 42)), "CCTV, access control and alarm monitoring for offices, "
     "schools and logistics sites, installed by licensed engineers and monitored from a local control room."),
    ("Office Fit-Out", ((16, 185, 129), (6, 95, 70)), "Design-and-build office interiors: space planning, furniture, "
     "acoustics, lighting and meeting-room technology, delivered over weekends to avoid downtime."),
    ("Fleet Telematics", ((168, 85, 247), (76, 29, 149)), "GPS tracking, driver-behaviour scoring and fuel reporting "
     "for vans and trucks, with a dashboard the operations team can use from day one."),
]  # fmt: skip

CONTENT = [  # partner email, category, status, text, note
    ("cp1@demo.test", "Solar & Energy", "approved",
     "Northwind has installed 140+ commercial rooftop systems since 2019. We handle permits, grid connection and "
     "financing, and monitor every site remotely for the first five years.", None),
    ("cp1@demo.test", "Managed IT Services", "approved",
     "Our helpdesk answers within 15 minutes, in English and Spanish. Flat per-seat pricing, no lock-in.", None),
    ("cp2@demo.test", "Cloud Migration", "submitted",
     "Blue Harbor moved 60 mid-size firms to Microsoft 365 and Azure last year. Free two-day assessment.", None),
    ("cp3@demo.test", "Commercial Security", "rejected",
     "Best security in town, call us!!!", "Please describe what you install and where you have done it; "
     "avoid superlatives without evidence."),
    ("cp3@demo.test", "Office Fit-Out", "draft",
     "Ødegaard & Co. fits out offices of 20 to 200 desks across the region, with Scandinavian furniture partners.",
     None),
]  # fmt: skip


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def draw_banner(title: str, colours, seed: int, size=(960, 720)) -> bytes:
    """A gradient with soft shapes and the title: a presentable generated picture."""
    width, height = size
    top, bottom = colours
    image = Image.new("RGB", size, top)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        mix = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)))
    rng = random.Random(seed)
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    shapes = ImageDraw.Draw(overlay)
    for _ in range(7):
        x, y, r = rng.randint(0, width), rng.randint(0, height), rng.randint(60, 220)
        shapes.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255, rng.randint(18, 48)))
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([48, height - 170, width - 48, height - 60], radius=18, fill=(255, 255, 255))
    draw.text((80, height - 142), title, fill=bottom, font=_font(52))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def draw_logo(company: str, colour) -> bytes:
    image = Image.new("RGB", (256, 256), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([16, 16, 240, 240], radius=48, fill=colour)
    initials = "".join(word[0] for word in company.split()[:2]).upper()
    draw.text((128, 128), initials, fill=(255, 255, 255), font=_font(110), anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _seed_categories() -> dict:
    by_name = {}
    for order, (name, colours, description) in enumerate(CATEGORIES):
        category = db.session.scalar(sa.select(Category).where(Category.name == name))
        if category is None:
            category = Category(name=name, description=description, sort_order=order, is_active=True)
            db.session.add(category)
            db.session.flush()
            for index in range(3):
                data = draw_banner(name if index == 0 else f"{name} · {index + 1}", colours, order * 10 + index)
                stored = storage.save_bytes(data, "category_image", f"{name} {index + 1}.jpg", "image/jpeg")
                db.session.add(CategoryImage(category_id=category.id, file_id=stored.id, sort_order=index))
        by_name[name] = category
    return by_name


def _partner(email: str) -> ChannelPartner | None:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    return user.partner if user else None


def _seed_logos() -> None:
    palette = [(37, 99, 235), (16, 185, 129), (234, 88, 12), (168, 85, 247)]
    partners = db.session.scalars(sa.select(ChannelPartner).order_by(ChannelPartner.company_name))
    for index, partner in enumerate(partners):
        if partner.logo_file_id is None:
            data = draw_logo(partner.company_name, palette[index % len(palette)])
            stored = storage.save_bytes(data, "logo", "logo.png", "image/png", cp_id=partner.id)
            partner.logo_file_id = stored.id


def _seed_content(categories: dict) -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    for email, category_name, status, text, note in CONTENT:
        partner, category = _partner(email), categories[category_name]
        if partner is None:
            continue
        exists = db.session.scalar(
            sa.select(CpCategoryContent.id).where(
                CpCategoryContent.cp_id == partner.id, CpCategoryContent.category_id == category.id
            )
        )
        if exists:
            continue
        content = CpCategoryContent(cp_id=partner.id, category_id=category.id, description=text, status=status)
        if status != "draft":
            content.submitted_at = utcnow()
        if status in {"approved", "rejected"}:
            content.reviewed_at, content.reviewed_by, content.review_note = utcnow(), admin.id if admin else None, note
        db.session.add(content)
        db.session.flush()
        data = draw_banner(partner.company_name, ((241, 245, 249), (30, 64, 175)), sum(map(ord, email)), (640, 480))
        stored = storage.save_bytes(data, "content_image", "project.jpg", "image/jpeg", cp_id=partner.id)
        db.session.add(ContentImage(content_id=content.id, file_id=stored.id, sort_order=0))


def seed() -> None:
    categories = _seed_categories()
    _seed_logos()
    _seed_content(categories)
    db.session.flush()
