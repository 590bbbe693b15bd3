"""Demo marketing assets: one of each type, a gold-tier banner, downloads by two partners. Safe to run twice."""

import io

import sqlalchemy as sa
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage

from app.demo.catalog import draw_banner, draw_logo
from app.enablement import assets
from app.extensions import db
from app.models import Category, ChannelPartner, User
from app.models.assets import MarketingAsset

EMAIL = """<!doctype html>
<html><body style="font-family: Arial, sans-serif; color: #0f172a">
<h1 style="color: #2563eb">Cut your energy bill by a third</h1>
<p>Hello {{first_name}},</p>
<p>We install rooftop solar for offices and warehouses, with permits, grid connection and financing handled for you.
Most of our clients see the system pay for itself within five years.</p>
<p><a href="{{referral_link}}">Book a free site survey</a></p>
<p>{{partner_name}}</p>
</body></html>
"""


def _proposal_pdf() -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    lines = ["Managed IT Services: proposal", "", "1. Your current setup", "2. What we propose",
             "3. Service levels and response times", "4. Price per seat and terms", "5. Next steps"]  # fmt: skip
    for n, line in enumerate(lines):
        pdf.drawString(72, 760 - n * 22, line)
    pdf.save()
    return buffer.getvalue()


def _specs() -> list[tuple]:
    """(title, type, tier, category name, file name, bytes, description)."""
    return [
        ("LeadFlow partner logo", "logo", "bronze", None, "partner-logo.png",
         draw_logo("Lead Flow", (37, 99, 235)), "The 'LeadFlow partner' mark for your website and email footer."),
        ("Solar web banner", "banner", "bronze", "Solar & Energy", "solar-banner.jpg",
         draw_banner("Solar that pays for itself", ((250, 176, 5), (234, 88, 12)), 11), "960×720 for web pages."),
        ("Solar spring flyer", "flyer", "bronze", "Solar & Energy", "solar-flyer.jpg",
         draw_banner("Spring solar survey", ((250, 176, 5), (180, 60, 10)), 12, (840, 1188)),
         "A4 flyer: download it co-branded with your logo and company name."),
        ("Solar intro email", "email_template", "bronze", "Solar & Energy", "solar-intro.html",
         EMAIL.encode(), "An introduction email; replace the {{placeholders}}."),
        ("Managed IT proposal", "proposal_template", "silver", "Managed IT Services", "it-proposal.pdf",
         _proposal_pdf(), "Proposal outline with a co-branded cover sheet. Silver partners and above."),
        ("Security trade-show banner", "banner", "gold", "Commercial Security", "security-banner.jpg",
         draw_banner("Secure every site", ((71, 85, 105), (15, 23, 42)), 13), "For gold and platinum partners."),
    ]  # fmt: skip


def seed() -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    if admin is None or db.session.scalar(sa.select(sa.func.count(MarketingAsset.id))):
        return
    categories = {c.name: c.id for c in db.session.scalars(sa.select(Category))}
    made = []
    for title, asset_type, tier, category, name, data, description in _specs():
        made.append(
            assets.create_asset(
                actor=admin,
                title=title,
                description=description,
                asset_type=asset_type,
                min_tier=tier,
                category_id=categories.get(category),
                upload=FileStorage(io.BytesIO(data), filename=name),
            )  # fmt: skip
        )
    partners = db.session.scalars(sa.select(ChannelPartner).where(ChannelPartner.status == "approved").limit(2))
    for partner in partners:
        for asset in made[:3]:
            assets.record_download(asset, partner=partner, actor=partner.user, cobranded=asset.asset_type == "flyer")
    db.session.flush()
