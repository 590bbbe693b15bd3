"""Who may see a stored file: the one rule book that every download (/files/<id>) is checked against."""

import sqlalchemy as sa

from app.extensions import db
from app.files.storage import PUBLIC_KINDS
from app.models import (
    CommissionTransaction,
    CpPayment,
    Lead,
    LeadEvidence,
    PlatformFeeSettlement,
    ReportExport,
    StoredFile,
)


def _exists(query) -> bool:
    return db.session.scalar(sa.select(query.exists())) or False


def _cp_sees_evidence(user, partner, f) -> bool:
    query = (
        sa.select(LeadEvidence.id)
        .join(Lead, Lead.id == LeadEvidence.lead_id)
        .where(LeadEvidence.file_id == f.id)
        .where(sa.or_(Lead.allocated_to == partner.id, Lead.originated_by == partner.id))
    )
    return _exists(query)


def _cp_sees_bank_slip(user, partner, f) -> bool:
    fee_slip = sa.select(PlatformFeeSettlement.id).where(PlatformFeeSettlement.bank_slip_file_id == f.id)
    if _exists(fee_slip):
        return False  # platform-fee settlement slips are between admin and super admin only
    own = sa.select(CommissionTransaction.id).where(
        CommissionTransaction.bank_slip_file_id == f.id, CommissionTransaction.cp_id == partner.id
    )
    return _exists(own)


def _cp_sees_client_payment(user, partner, f) -> bool:
    own = sa.select(CommissionTransaction.id).where(
        CommissionTransaction.client_payment_file_id == f.id, CommissionTransaction.cp_id == partner.id
    )
    return _exists(own)


def _cp_sees_receipt(user, partner, f) -> bool:
    own = sa.select(CpPayment.id).where(CpPayment.receipt_file_id == f.id, CpPayment.cp_id == partner.id)
    return _exists(own)


def _requested_report(user, f) -> bool:
    if f.uploaded_by == user.id:
        return True
    return _exists(sa.select(ReportExport.id).where(ReportExport.file_id == f.id, ReportExport.requested_by == user.id))


_CP_RULES = {
    "evidence": _cp_sees_evidence,
    "bank_slip": _cp_sees_bank_slip,
    "client_payment": _cp_sees_client_payment,
    "payment_receipt": _cp_sees_receipt,
    "report": lambda user, partner, f: _requested_report(user, f),
    "lead_import": lambda user, partner, f: f.cp_id == partner.id,  # the partner's own imports and rejected rows
}


def can_view(user, stored_file: StoredFile | None) -> bool:
    """The one rule book for downloads. Staff see all but others' reports; a CP sees its own things."""
    if stored_file is None or user is None or not getattr(user, "is_authenticated", False):
        return False
    if not stored_file.is_ready:
        return False
    if stored_file.kind in PUBLIC_KINDS:
        return True
    if user.is_staff:
        return stored_file.kind != "report" or _requested_report(user, stored_file)
    partner = user.partner if user.is_cp else None
    rule = _CP_RULES.get(stored_file.kind)
    if partner is None or rule is None:
        return False
    if stored_file.kind == "bank_slip":
        return rule(user, partner, stored_file)  # a CP never sees a fee slip, even one it could name
    return stored_file.uploaded_by == user.id or rule(user, partner, stored_file)
