"""Demo intake (SPEC 9.2): category fields, a review queue with scores from high to low, possible duplicates, a
rejected lead, a bad lead, origination credits, public requests (one awaiting its confirmation), referral visits
and leads per source, and a finished import with rejected rows. Created once: each
demo submission carries an intake_key."""

import io

import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.jobs.imports import run_import
from app.leads import confirmation, imports, intake, referrals, review
from app.models import Category, CategoryField, ChannelPartner, Lead, OriginationCredit, ReferralVisit, User
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
        review.reject(leads["demo-rejected"], admin, "incomplete", "The email and phone are made up.")
        review.approve(leads["demo-credit"], admin)
        approved = db.session.scalar(
            sa.select(OriginationCredit).where(OriginationCredit.lead_id == leads["demo-credit"].id)
        )
        credits.decide(approved, admin, True)
        _bad_lead(admin)
        _public_and_referrals(solar, admin)
        _import(solar, admin)
    db.session.flush()


PUBLIC = (  # (utm_source or None for a plain public request, confirmed?, data)
    (None, False, {"first_name": "Noor", "last_name": "Haddad", "contact_email": "noor@haddad-homes.example",
                   "cf_roof_size": "90", "lead_type": "consumer", "timeline": "year"}),
    (None, True, {"first_name": "Ike", "last_name": "Okoye", "contact_email": "ike@okoye-print.example",
                  "contact_phone": "+44 161 496 0321", "contact_company": "Okoye Print", "cf_roof_size": "400",
                  "lead_type": "business", "budget": "25k_100k", "timeline": "quarter"}),
    ("newsletter", True, {"first_name": "Lucia", "last_name": "Ferri", "contact_email": "lucia@ferri-wines.example",
                          "contact_company": "Ferri Wines", "cf_roof_size": "650", "lead_type": "business",
                          "budget": "over_100k", "timeline": "now"}),
    ("linkedin", False, {"first_name": "Tariq", "last_name": "Aziz", "contact_email": "tariq@aziz-cafe.example",
                         "cf_roof_size": "70"}),
    ("linkedin", True, {"first_name": "Eva", "last_name": "Nowak", "contact_email": "eva@nowak-dental.example",
                        "contact_company": "Nowak Dental", "cf_roof_size": "150", "timeline": "year"}),
)  # fmt: skip


def _public_and_referrals(solar: Category, admin) -> None:
    """Public requests (one still waiting for its confirmation) and cp1's referral visits and leads."""
    partner = _partner("cp1@demo.test")
    for n, source in enumerate(("newsletter", "newsletter", "linkedin", "linkedin", "linkedin", None, None)):
        args = {"utm_source": source, "utm_medium": "email" if source == "newsletter" else "social"} if source else {}
        referrals.record_visit(partner, args, "https://northwind.example/blog" if n % 2 else None, solar)
    visits = {
        v.utm_source: v
        for v in db.session.scalars(sa.select(ReferralVisit).where(ReferralVisit.partner_id == partner.id))
    }
    for source, confirmed, data in PUBLIC:
        lead = referrals.submit_request(data, solar, visits.get(source) if source else None)
        if confirmed:
            confirmation.redeem(confirmation.new_token(lead))
    first = db.session.scalar(sa.select(Lead).where(Lead.channel == "referral", Lead.intake_status == "pending_review"))
    if first is not None:
        review.approve(first, admin)


IMPORT_CSV = """First name,Surname,E-mail,Mobile,Company name,Roof size (m²),Notes
Aisha,Bello,aisha@bello-farms.example,+1 312 555 0101,Bello Farms,1200,Barn roofs
Marco,Rossi,marco@rossi-tiles.example,,Rossi Tiles,300,
Yuki,Tanaka,,+1 312 555 0103,Tanaka Sushi,80,Call after 3pm
Grace,Hopper,grace@navalyard.example,,Naval Yard,850,Already in touch with a partner
Bad,Row,not-an-email,,,,
Pieter,De Vries,pieter@devries.example,+31 20 555 0199,De Vries BV,,Roof size unknown
=HYPERLINK("http://x"),Formula,formula@example.com,,,,A cell starting with =
"""


def _import(solar: Category, admin) -> None:
    """A finished admin import of a small CSV: created rows, a duplicate, and rejected rows to download."""
    upload = FileStorage(io.BytesIO(IMPORT_CSV.encode()), filename="trade-show-leads.csv", content_type="text/csv")
    imp = imports.upload(upload, actor=admin, category=solar)
    imports.start(imp, imp.mapping, admin, queue=False)
    db.session.commit()
    run_import(str(imp.id))


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
