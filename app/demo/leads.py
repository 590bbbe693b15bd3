"""Demo leads: dozens across the three demo partners, every stage, values, commissions, a few fee
overrides, notes, evidence and activity. Everything goes through the intake and pipeline services (won leads
too, so their commission transactions exist). Each lead is created once, by title."""

import io
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from PIL import Image, ImageDraw

from app.extensions import db
from app.files import storage
from app.leads import intake, pipeline, review, scoring
from app.models import Category, ChannelPartner, Lead, LeadEvidence, User
from app.models.base import utcnow

PARTNERS = ("cp1@demo.test", "cp2@demo.test", "cp3@demo.test")
STAGE_PATH = ("new", "contacted", "qualified", "proposal", "negotiation")
COMPANIES = (
    "Acme Logistics", "Brightwater Clinics", "Cedar Hotels", "Delta Print", "Evergreen Schools", "Foxglove Bakery",
    "Granite Builders", "Harbor Freight Co", "Ironwood Labs", "Juniper Retail", "Keystone Insurance", "Lumen Studios",
)  # fmt: skip
PRODUCTS = ("Solar roof", "Fleet tracking", "Office fit-out", "Managed Wi-Fi", "CCTV upgrade", "HR software")
# stage, value, commission, override (type, value) or None, days ago, note
PLAN = [
    ("new", None, None, None, 1, None),
    ("new", "4200", "420", None, 2, "Asked for a call next week."),
    ("contacted", "8800", "700", None, 4, "Left a voicemail, then spoke to the office manager."),
    ("contacted", "15000", "1200", ("fixed", "50"), 6, None),
    ("qualified", "23000", "1840", None, 9, "Budget confirmed for Q3."),
    ("proposal", "12000", "1000", None, 12, "Quote sent with two options."),
    ("negotiation", "31000", "2790", ("percentage", "7.5"), 15, "They want a longer warranty."),
    ("won", "9500", "760", None, 18, "Signed — installation booked."),
    ("lost", "6000", "480", None, 20, None),
    ("qualified", "2750", "30", ("fixed", "50"), 22, "Small job; the fee is capped at the commission."),
    ("won", "40000", "3200", None, 26, None),
    ("proposal", "18000", None, None, 28, None),
]
FIRST = ("Jamie", "Priya", "Tom", "Aiko", "Lena", "Omar", "Sofia", "Ben")
JOBS = ("Operations manager", "CFO", "Facilities lead", "Owner", "IT director", "Office manager")
LOST_REASONS = ("Went with a cheaper competitor.", "Project postponed to next year.", "No budget after all.")


def _evidence_png(label: str) -> bytes:
    image = Image.new("RGB", (320, 200), (226, 232, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 310, 190), outline=(37, 99, 235), width=4)
    draw.text((24, 90), label[:40], fill=(30, 58, 138))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _evidence_pdf(title: str) -> bytes:
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A5)
    pdf.drawString(40, 540, f"Proposal: {title[:60]}")
    pdf.save()
    return buffer.getvalue()


def _attach(lead, actor, data: bytes, name: str, content_type: str, file_type: str) -> None:
    stored = storage.save_bytes(data, "evidence", name, content_type, actor=actor, cp_id=lead.allocated_to)
    db.session.add(LeadEvidence(lead_id=lead.id, file_id=stored.id, file_type=file_type, uploaded_by=actor.id))


def _seed_lead(admin, partner: ChannelPartner, categories, index: int, plan) -> None:
    stage, value, commission, override, days, note = plan
    title = f"{PRODUCTS[index % len(PRODUCTS)]} for {COMPANIES[index % len(COMPANIES)]}"
    if index >= len(COMPANIES):
        title += f" (site {index // len(COMPANIES) + 1})"
    if db.session.scalar(sa.select(Lead.id).where(Lead.title == title)):
        return
    category = categories[index % len(categories)] if categories else None
    company = COMPANIES[index % len(COMPANIES)]
    data = {
        "title": title, "description": "Interested prospect.", "first_name": FIRST[index % len(FIRST)],
        "last_name": "Rivera", "contact_company": company, "job_title": JOBS[index % len(JOBS)],
        "contact_email": f"{FIRST[index % len(FIRST)].lower()}.rivera{index}@{company.split()[0].lower()}.example",
        "contact_phone": f"+1 415 555 01{index % 100:02d}", "industry": "Services" if index % 3 else "",
        "lead_type": "business", "budget": "25k_100k" if index % 2 else "", "timeline": "quarter" if index % 3 else "",
    }  # fmt: skip
    if index % 4 == 3:  # brought in by the partner itself through the portal, then reviewed
        lead = intake.submit(data, category, channel="portal", actor=partner.user, partner=partner)
        review.approve(lead, admin)
    else:
        lead = intake.submit(data, category, channel="admin", actor=admin)
    pipeline.allocate(lead, partner, admin, override=override)
    actor = partner.user
    pipeline.set_amounts(lead, value, commission, actor, lead.version)
    for step in STAGE_PATH[1 : STAGE_PATH.index(stage) + 1 if stage in STAGE_PATH else len(STAGE_PATH)]:
        pipeline.change_stage(lead, step, actor, lead.version)
    if stage in ("won", "lost"):
        pipeline.change_stage(lead, stage, actor, lead.version, LOST_REASONS[index % len(LOST_REASONS)])
    if note:
        pipeline.add_note(lead, note, actor)
    if stage in ("proposal", "negotiation", "won"):
        _attach(lead, actor, _evidence_pdf(title), "proposal.pdf", "application/pdf", "pdf")
    if stage in ("qualified", "won"):
        _attach(lead, actor, _evidence_png(title), "site-photo.png", "image/png", "image")
    lead.created_at = utcnow() - timedelta(days=days + 3)
    lead.stage_changed_at = utcnow() - timedelta(days=days)


def seed() -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    partners = [
        p for p in db.session.scalars(
            sa.select(ChannelPartner).join(User, User.id == ChannelPartner.user_id).where(User.email.in_(PARTNERS))
        )
        if p.status == "approved"
    ]  # fmt: skip
    if admin is None or not partners:
        return
    partners.sort(key=lambda p: p.user.email)
    categories = list(db.session.scalars(sa.select(Category).order_by(Category.sort_order, Category.name)))
    settings = scoring.settings()  # partners earn a lead credit on approval and on Won (seed 001)
    settings.credit_on_approval, settings.credit_percent_on_won = Decimal("25.00"), Decimal("2.00")
    with current_app.test_request_context("/"):  # notification links are built with url_for
        index = 0
        for partner in partners:
            for plan in PLAN:
                _seed_lead(admin, partner, categories, index, plan)
                index += 1
        for extra in range(3):  # approved, waiting for allocation
            title = f"Unallocated enquiry #{extra + 1}"
            if not db.session.scalar(sa.select(Lead.id).where(Lead.title == title)):
                data = {"title": title, "description": "Came in by phone.", "first_name": "Sam",
                        "last_name": f"Okafor {extra + 1}", "contact_phone": f"+44 20 7946 09{extra:02d}"}  # fmt: skip
                intake.submit(data, categories[0] if categories else None, channel="admin", actor=admin)
        db.session.flush()
