"""The team: an open invitation of the world's partner (its viewer member is made in tests/world.py)."""

from datetime import timedelta

from app.extensions import db
from app.models import PartnerInvite
from app.models.base import utcnow


def add(world) -> None:
    partner, owner = world["partners"]["cp"], world["users"]["cp"]
    invite = PartnerInvite(
        partner_id=partner.id,
        email="invited@example.test",
        role="manager",
        token_hash="0" * 64,
        created_by=owner.id,
        expires_at=utcnow() + timedelta(days=7),
    )
    db.session.add(invite)
    db.session.flush()
    world["ids"]["invite"] = invite.id
