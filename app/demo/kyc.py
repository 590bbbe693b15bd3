"""Demo KYC and partner profiles: verified, unverified and rejected bank details (IBANs from schwifty's
documentation), every tier, a mix of capabilities and one inactive partner (cp4@demo.test). Everything goes
through the operations (audit rows, notifications); a second run changes nothing."""

import sqlalchemy as sa
from flask import current_app

from app.accounts.operations import add_member
from app.accounts.passwords import hash_password
from app.demo.people import PASSWORD, _user
from app.extensions import db
from app.models import ChannelPartner, User
from app.models.base import utcnow
from app.partners import kyc, profiles, settings

# email: (bank details as the partner enters them, KYC verdict and note, admin settings)
PROFILES = {
    "cp1@demo.test": (
        {"bank_routing_number": "021000021", "bank_currency": "USD", "tax_id": "12-3456789"},
        ("verified", None),
        {"tier": "gold", "monthly_lead_quota": 40, "cap_buys": True},
    ),
    "cp2@demo.test": (
        {"bank_account_number": None, "bank_iban": "GB82 WEST 1234 5698 7654 32", "bank_swift_code": "WESTGB2L",
         "bank_currency": "GBP", "payout_method": "wire", "tax_id": "GB123456789"},
        (None, None),  # just changed: waiting for an admin
        {"tier": "silver", "monthly_lead_quota": None},
    ),
    "cp3@demo.test": (
        {"bank_account_number": None, "bank_iban": "NO93 8601 1117 947", "bank_swift_code": "DABANO22",
         "bank_currency": "NOK", "tax_id": "NO 923 609 016 MVA"},
        ("rejected", "The account holder (Ødegaard & Co.) does not match the company name: upload a bank letter."),
        {"tier": "platinum", "cap_supplies": True},
    ),
}  # fmt: skip
INACTIVE = ("cp4@demo.test", "Lars Weber", "Old Mill Traders")
INACTIVE_BANK = {
    "bank_name": "Commerzbank",
    "bank_account_name": "Old Mill Traders GmbH",
    "bank_iban": "DE89 3704 0044 0532 0130 00",
    "bank_swift_code": "COBADEFFXXX",
    "bank_currency": "EUR",
    "payout_method": "bank_transfer",
}


def _partner(email: str) -> ChannelPartner | None:
    return db.session.scalar(
        sa.select(ChannelPartner).join(User, User.id == ChannelPartner.user_id).where(User.email == email)
    )


def _inactive_partner(admin: User) -> ChannelPartner:
    email, name, company = INACTIVE
    user = _user(email, name, "channel_partner", "active", hash_password(PASSWORD))
    partner = db.session.scalar(sa.select(ChannelPartner).where(ChannelPartner.user_id == user.id))
    if partner is None:
        partner = ChannelPartner(
            user_id=user.id, company_name=company, status="approved", approved_by=admin.id, approved_at=utcnow()
        )
        db.session.add(partner)
        db.session.flush()
        add_member(partner, user)
    return partner


def _apply(partner: ChannelPartner, bank: dict, verdict, admin_settings: dict, admin: User) -> None:
    if profiles.update_bank_details(partner, bank, actor=partner.user) and verdict[0]:
        kyc.review(partner, admin, verdict[0], verdict[1])
    settings.update(partner, admin_settings, actor=admin)


def seed() -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    with current_app.test_request_context("/"):  # notification links are built with url_for
        for email, (bank, verdict, admin_settings) in PROFILES.items():
            partner = _partner(email)
            if partner is not None:
                _apply(partner, bank, verdict, admin_settings, admin)
        partner = _inactive_partner(admin)
        _apply(partner, INACTIVE_BANK, ("verified", None), {"tier": "bronze", "cap_works": False}, admin)
        settings.update(partner, {"status": "inactive"}, actor=admin)
    db.session.flush()
