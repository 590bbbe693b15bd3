"""Records the API's routes name beyond the pages' world: cp's lead holding evidence and that evidence, the owner's
own membership, and an invitation that is no longer open (so acting on it refuses the same way every time)."""

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import LeadEvidence, PartnerInvite
from app.models.base import utcnow


def add(world) -> None:
    partner, owner = world["partners"]["cp"], world["users"]["cp"]
    evidence = db.session.scalars(
        sa.select(LeadEvidence).where(LeadEvidence.file_id == world["ids"]["evidence_file"])
    ).one()
    closed = PartnerInvite(
        partner_id=partner.id,
        email="withdrawn@example.test",
        role="viewer",
        token_hash="1" * 64,
        created_by=owner.id,
        expires_at=utcnow() + timedelta(days=7),
        revoked_at=utcnow(),
    )
    db.session.add(closed)
    db.session.flush()
    world["ids"].update(
        evidence=evidence.id,
        evidence_lead=evidence.lead_id,
        owner_member=owner.membership.id,
        closed_invite=closed.id,
    )
