"""Demo users, channel partners and the global fee rule."""

from decimal import Decimal

import sqlalchemy as sa

from app.accounts.operations import add_member
from app.accounts.passwords import hash_password
from app.extensions import db
from app.models import ChannelPartner, PlatformFeeConfig, User
from app.models.base import utcnow

PASSWORD = "demo-pass-2026"

PARTNERS = [
    (
        "cp1@demo.test",
        "Aisha Karim",
        "Northwind Solutions",
        "approved",
        ("First Capital Bank", "001234567890", "Northwind Solutions Ltd", "Downtown", "FCBKUS33"),
    ),
    (
        "cp2@demo.test",
        "Mateo García",
        "Blue Harbor Partners",
        "approved",
        ("Harbor Trust", "009876543210", "Blue Harbor Partners LLC", "Seaside", "HRBTUS44"),
    ),
    (
        "cp3@demo.test",
        "Søren Ødegaard",
        "Ødegaard & Co. Reselling",
        "approved",
        ("Nordic Savings", "005555123456", "Ødegaard & Co.", "Harbourfront", "NRDSNO22"),
    ),
    ("pending@demo.test", "Priya Shah", "Sunrise Ventures", "pending", None),
]


def _user(email: str, name: str, role: str, status: str, password_hash: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, role=role, status=status, password_hash=password_hash)
        db.session.add(user)
        db.session.flush()
    return user


def seed() -> None:
    password_hash = hash_password(PASSWORD)
    _user("super@demo.test", "Sam Owner", "super_admin", "active", password_hash)
    admin = _user("admin@demo.test", "Alex Admin", "admin", "active", password_hash)
    _user("admin2@demo.test", "Jordan Ops", "admin", "active", password_hash)
    for email, name, company, status, bank in PARTNERS:
        user = _user(email, name, "channel_partner", "active" if status == "approved" else "pending", password_hash)
        if user.partner is None:
            partner = ChannelPartner(user_id=user.id, company_name=company, status=status, contact_phone="+1 555 0100")
            if status == "approved":
                partner.approved_by, partner.approved_at = admin.id, utcnow()
                # checked at approval; app/demo/kyc.py later changes some of them (back to unverified or rejected)
                partner.kyc_status, partner.kyc_reviewed_by, partner.kyc_reviewed_at = "verified", admin.id, utcnow()
            if bank:
                (
                    partner.bank_name,
                    partner.bank_account_number,
                    partner.bank_account_name,
                    partner.bank_branch,
                    partner.bank_swift_code,
                ) = bank
            db.session.add(partner)
            db.session.flush()
            add_member(partner, user)
    if db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeConfig)) == 0:
        db.session.add(
            PlatformFeeConfig(
                fee_type="percentage", fee_value=Decimal("10"), is_active=True, created_by=admin.id, notes="Launch rate"
            )
        )
    db.session.flush()
