"""Test data factories: plain functions that add rows and flush."""

import itertools
from decimal import Decimal

from app.accounts.operations import add_member
from app.accounts.passwords import hash_password
from app.extensions import db
from app.models import Category, ChannelPartner, Lead, PlatformFeeConfig, User
from app.models.base import utcnow
from app.money import fees

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def make_user(role: str = "admin", status: str = "active", email: str | None = None, **kw) -> User:
    n = next(_seq)
    user = User(
        email=email or f"{role.replace('_', '')}{n}@example.test",
        name=kw.pop("name", f"{role.title()} {n}"),
        role=role,
        status=status,
        password_hash=kw.pop("password_hash", None) or hash_password(kw.pop("password", PASSWORD)),
        email_confirmed_at=kw.pop("email_confirmed_at", utcnow()),  # pass None for a sign-up not yet confirmed
        **kw,
    )
    db.session.add(user)
    db.session.flush()
    return user


def make_partner(status: str = "approved", company: str | None = None, **kw) -> ChannelPartner:
    user_status = {"approved": "active", "pending": "pending", "rejected": "rejected", "suspended": "suspended"}[status]
    user = make_user("channel_partner", user_status, **{k: kw.pop(k) for k in ("email", "password") if k in kw})
    partner = ChannelPartner(
        user_id=user.id,
        company_name=company or f"Company {next(_seq)}",
        status=status,
        approved_at=utcnow() if status == "approved" else None,
        bank_name=kw.pop("bank_name", "Test Bank"),
        bank_account_number=kw.pop("bank_account_number", "12345678901"),
        bank_account_name=kw.pop("bank_account_name", "Test Account"),
        bank_branch=kw.pop("bank_branch", "Main"),
        bank_swift_code=kw.pop("bank_swift_code", "TESTUS33"),
        kyc_status=kw.pop("kyc_status", "verified"),  # payouts wait for verified bank details
        **kw,
    )
    db.session.add(partner)
    db.session.flush()
    add_member(partner, user)
    return partner


def make_fee_config(fee_type: str = "percentage", value: str = "10", created_by=None) -> PlatformFeeConfig:
    for active in db.session.scalars(db.select(PlatformFeeConfig).where(PlatformFeeConfig.is_active.is_(True))):
        active.is_active = False
    db.session.flush()
    config = PlatformFeeConfig(fee_type=fee_type, fee_value=Decimal(value), is_active=True, created_by=created_by)
    db.session.add(config)
    db.session.flush()
    return config


def make_category(name: str | None = None, **kw) -> Category:
    category = Category(name=name or f"Category {next(_seq)}", description=kw.pop("description", "A category."), **kw)
    db.session.add(category)
    db.session.flush()
    return category


def make_lead(assignee: ChannelPartner | None = None, originator: ChannelPartner | None = None, **kw) -> Lead:
    lead = Lead(
        title=kw.pop("title", f"Lead {next(_seq)}"),
        description=kw.pop("description", "Interested prospect."),
        originated_by=originator.id if originator else None,
        allocated_to=assignee.id if assignee else None,
        allocation_status="allocated" if assignee else "pending",
        kanban_stage=kw.pop("kanban_stage", "new"),
        intake_status=kw.pop("intake_status", "distributed" if assignee else "approved"),
        confirmed_at=kw.pop("confirmed_at", utcnow()),
        **kw,
    )
    for money_field in ("lead_value", "commission_amount", "fee_override_value"):
        if getattr(lead, money_field) is not None:
            setattr(lead, money_field, Decimal(str(getattr(lead, money_field))))
    db.session.add(lead)
    db.session.flush()
    fees.apply_to_lead(lead)
    db.session.flush()
    return lead


def make_member(partner: ChannelPartner, role: str = "manager", **kw) -> User:
    """A second login of `partner` with a member role (owner, manager or viewer)."""
    user = make_user("channel_partner", **kw)
    add_member(partner, user, role)
    return user
