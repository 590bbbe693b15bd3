"""Demo of issue 17's account features: confirmed and unconfirmed sign-ups, an invited admin, a suspended one."""

import secrets

import sqlalchemy as sa

from app.accounts.operations import add_member
from app.accounts.passwords import hash_password
from app.extensions import db
from app.models import ChannelPartner, User
from app.models.base import utcnow

DEMO_DOMAIN = "@demo.test"
UNCONFIRMED = "unconfirmed@demo.test"  # signed up, never opened the confirmation email: approval is refused
STAFF = [
    # email, name, status, has a password (else: invited, the set-password link not used yet)
    ("invited@demo.test", "Robin Invited", "active", False),
    ("former@demo.test", "Casey Former", "suspended", True),
]


def seed() -> None:
    from app.demo.people import PASSWORD

    password_hash = hash_password(PASSWORD)
    for email, name, status, has_password in STAFF:
        if db.session.scalar(sa.select(User.id).where(User.email == email)) is None:
            db.session.add(
                User(
                    email=email,
                    name=name,
                    role="admin",
                    status=status,
                    password_hash=password_hash if has_password else hash_password(secrets.token_urlsafe(32)),
                    must_change_password=not has_password,
                    email_confirmed_at=utcnow() if has_password else None,
                )
            )
    if db.session.scalar(sa.select(User.id).where(User.email == UNCONFIRMED)) is None:
        user = User(
            email=UNCONFIRMED,
            name="Uma Unconfirmed",
            role="channel_partner",
            status="pending",
            password_hash=password_hash,
        )
        db.session.add(user)
        db.session.flush()
        partner = ChannelPartner(user_id=user.id, company_name="Unconfirmed Trading", status="pending")
        db.session.add(partner)
        db.session.flush()
        add_member(partner, user)
    # Every other demo login has a confirmed address (the seed made them; nobody clicked a link).
    db.session.execute(
        sa.update(User)
        .where(
            User.email.endswith(DEMO_DOMAIN),
            User.email != UNCONFIRMED,
            User.must_change_password.is_(False),
            User.email_confirmed_at.is_(None),
        )
        .values(email_confirmed_at=utcnow())
    )
    db.session.flush()
