"""Northwind Solutions' team: its owner (cp1), a manager and a viewer who log in with the demo password, an open
invitation, and the invite code colleagues use at sign-up."""

import sqlalchemy as sa

from app.accounts.operations import add_member
from app.accounts.passwords import hash_password
from app.audit import trail as audit
from app.demo.people import PASSWORD
from app.extensions import db
from app.models import ChannelPartner, PartnerInvite, User
from app.models.base import utcnow
from app.partners import members

TEAM = [
    ("cp1-manager@demo.test", "Leo Manager", "manager"),
    ("cp1-viewer@demo.test", "Vera Viewer", "viewer"),
]
INVITED = "new.colleague@demo.test"


def seed() -> None:
    owner = db.session.scalar(sa.select(User).where(User.email == "cp1@demo.test"))
    partner = owner.partner if owner else None
    if partner is None or partner.status != "approved":
        return
    for email, name, role in TEAM:
        if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
            continue
        user = User(
            email=email,
            name=name,
            role="channel_partner",
            status="active",
            password_hash=hash_password(PASSWORD),
            email_confirmed_at=utcnow(),
        )
        db.session.add(user)
        db.session.flush()
        member = add_member(partner, user, role, owner)
        audit.record(owner, "member.joined", member, after={"email": email, "role": role, "via": "demo"})
    if not partner.invite_code:
        members.regenerate_code(partner, owner)
    _open_invitation(partner, owner)


def _open_invitation(partner: ChannelPartner, owner: User) -> None:
    exists = sa.select(PartnerInvite.id).where(PartnerInvite.partner_id == partner.id, PartnerInvite.email == INVITED)
    if db.session.scalar(exists) is None:
        members.invite(partner, INVITED, "viewer", owner)
