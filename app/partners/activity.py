"""A partner's activity feed: every audited change to the partner, its members and invitations, its bank
details and its money (commissions and payments), who did it and when, read from the append-only audit log."""

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import AuditEvent, ChannelPartner, CommissionTransaction, CpPayment, PartnerInvite, PartnerMember

PAGE_SIZE = 30


def _ids(column, where) -> list[str]:
    return [str(value) for value in db.session.scalars(sa.select(column).where(where))]


def _entities(partner: ChannelPartner) -> dict[str, list[str]]:
    """The audit log's (entity type → ids) that belong to this partner."""
    return {
        "channel_partners": [str(partner.id)],
        "partner_members": _ids(PartnerMember.id, PartnerMember.partner_id == partner.id),
        "partner_invites": _ids(PartnerInvite.id, PartnerInvite.partner_id == partner.id),
        "commission_transactions": _ids(CommissionTransaction.id, CommissionTransaction.cp_id == partner.id),
        "cp_payments": _ids(CpPayment.id, CpPayment.cp_id == partner.id),
    }


def feed(partner: ChannelPartner, page: int = 1):
    """The partner's events, newest first, as a pagination."""
    matches = [
        sa.and_(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_(ids))
        for kind, ids in _entities(partner).items()
        if ids
    ]
    stmt = (
        sa.select(AuditEvent)
        .options(joinedload(AuditEvent.actor))
        .where(sa.or_(*matches))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    return db.paginate(stmt, page=max(page, 1), per_page=PAGE_SIZE, error_out=False)
