"""Demo intake (SPEC 9.2): category fields, the credit defaults, a review queue with scores from high to low,
possible duplicates, a rejected lead, a bad lead and origination credits in each state. Created once: each
demo submission carries an intake_key."""

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.leads import intake, review
from app.models import Category, CategoryField, ChannelPartner, Lead, OriginationCredit, User
from app.money import credits

SOLAR_FIELDS = (
    ("roof_size", "Roof size (m²)", "number", True, (), "Roughly is fine."),
    ("property_type", "Property type", "choice", False, ("Office", "Warehouse", "Retail", "Home"), ""),
    ("meter_id", "Electricity meter number", "text", False, (), "On the energy bill."),
)
# (key, partner email or None, channel, data) — the review queue, best and worst scores, and a duplicate
QUEUE = (
    ("demo-review-1", "cp1@demo.test", "portal", {
        "first_name": "Grace", "last_name": "Hopper", "contact_email": "grace@navalyard.example",
        "contact_phone": "+1 202 555 0143", "contact_company": "Naval Yard Offices", "job_title": "Facilities lead",
        "industry": "Government", "address": "1 Yard St, Washington DC", "lead_type": "public_sector",
        "budget": "over_100k", "timeline": "quarter", "cf_roof_size": "850", "cf_property_type": "Office",
        "description": "Wants solar on three office roofs before summer."}),
    ("demo-review-2", "cp2@demo.test", "portal", {
        "first_name": "Ravi", "last_name": "Shah", "contact_email": "ravi@shahbakery.example",
        "contact_company": "Shah Bakery", "lead_type": "business", "cf_roof_size": "120",
        "description": "Asked about battery storage."}),
    ("demo-review-3", "cp3@demo.test", "portal", {
        "first_name": "Mia", "last_name": "Wong", "contact_phone": "+44 20 7946 0321", "cf_roof_size": "60"}),
    # the same prospect as demo-review-1, brought in later by another partner: flagged, earns no credit
    ("demo-review-4", "cp2@demo.test", "portal", {
        "first_name": "Grace", "last_name": "Hopper", "contact_email": "Grace+solar@NavalYard.example",
        "contact_company": "Naval Yard", "cf_roof_size": "800"}),
    ("demo-rejected", "cp3@demo.test", "portal", {
        "first_name": "Test", "last_name": "Test", "contact_email": "test@mailinator.example", "cf_roof_size": "1"}),
    ("demo-credit", "cp1@demo.test", "portal", {
        "first_name": "Hedy", "last_name": "Lamarr", "contact_email": "hedy@lamarr-labs.example",
        "contact_phone": "+1 310 555 0188", "contact_company": "Lamarr Labs", "job_title": "Founder",
        "lead_type": "business", "budget": "25k_100k", "timeline": "now", "cf_roof_size": "300"}),
)  # fmt: skip


def _fields(category: Category) -> None:
    if category.fields:
        return
    for order, (key, label, kind, required, choices, help_text) in enumerate(SOLAR_FIELDS):
        category.fields.append(
            CategoryField(
                key=key,
                label=label,
                field_type=kind,
                required=required,
                choices=list(choices),
                help_text=help_text,
                sort_order=order,
            )  # fmt: skip
        )
    db.session.flush()


def _partner(email: str) -> ChannelPartner:
    return db.session.scalar(
        sa.select(ChannelPartner).join(User, User.id == ChannelPartner.user_id).where(User.email == email)
    )


def seed() -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    solar = db.session.scalar(sa.select(Category).where(Category.name == "Solar & Energy"))
    if admin is None or solar is None or db.session.scalar(sa.select(Lead.id).where(Lead.intake_key == "demo-credit")):
        return
    _fields(solar)
    with current_app.test_request_context("/"):
        leads = {}
        for key, email, channel, data in QUEUE:
            partner = _partner(email)
            leads[key] = intake.submit(
                data, solar, channel=channel, actor=partner.user, partner=partner, intake_key=key
            )
        review.reject(leads["demo-rejected"], admin, "incomplete", "The email and phone are placeholders.")
        review.approve(leads["demo-credit"], admin)
        approved = db.session.scalar(
            sa.select(OriginationCredit).where(OriginationCredit.lead_id == leads["demo-credit"].id)
        )
        credits.decide(approved, admin, True)
        _bad_lead(admin)
    db.session.flush()


def _bad_lead(admin) -> None:
    """One distributed lead turned out to be a wrong number."""
    lead = db.session.scalar(
        sa.select(Lead)
        .where(Lead.intake_status == "distributed", Lead.kanban_stage == "new")
        .order_by(Lead.title)
        .limit(1)
    )
    if lead is not None:
        review.mark_bad(lead, admin, "The number belongs to someone else; nobody there asked for a quote.")
