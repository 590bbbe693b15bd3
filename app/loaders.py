"""Load a record and check the current user may touch it: one helper per model, used everywhere.

A record a user may not see is reported as missing (404), never as forbidden, so ids cannot be probed.
"""

import uuid

from flask import abort
from flask_login import current_user

from app.extensions import db
from app.models import ChannelPartner


def parse_uuid(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        abort(404)


def get_or_404(model, record_id):
    record = db.session.get(model, parse_uuid(record_id))
    if record is None:
        abort(404)
    return record


def load_partner(partner_id) -> ChannelPartner:
    """Staff see every partner; a CP only its own."""
    partner = get_or_404(ChannelPartner, partner_id)
    if current_user.is_cp and (current_user.partner is None or current_user.partner.id != partner.id):
        abort(404)
    return partner


def load_member(partner, member_id):
    """One member of `partner` (itself loaded with load_partner); a member of any other partner is missing."""
    from app.models import PartnerMember

    member = get_or_404(PartnerMember, member_id)
    if member.partner_id != partner.id:
        abort(404)
    return member


def load_invite(partner, invite_id):
    """One invitation of `partner` (itself loaded with load_partner); any other partner's is missing."""
    from app.models import PartnerInvite

    invite = get_or_404(PartnerInvite, invite_id)
    if invite.partner_id != partner.id:
        abort(404)
    return invite


def load_stored_file(file_id):
    """A stored file the current user may see (app.files.visibility), else 404."""
    from app.files.visibility import can_view
    from app.models import StoredFile

    stored_file = get_or_404(StoredFile, file_id)
    if not can_view(current_user, stored_file):
        abort(404)
    return stored_file


def _own_partner_id():
    partner = current_user.partner if current_user.is_cp else None
    return partner.id if partner is not None else None


def load_transaction(tx_id):
    """A commission transaction: staff see all, a CP only its own."""
    from app.models import CommissionTransaction

    tx = get_or_404(CommissionTransaction, tx_id)
    if current_user.is_cp and tx.cp_id != _own_partner_id():
        abort(404)
    return tx


def load_payment(payment_id):
    """A CP payment: staff see all, a CP only its own."""
    from app.models import CpPayment

    payment = get_or_404(CpPayment, payment_id)
    if current_user.is_cp and payment.cp_id != _own_partner_id():
        abort(404)
    return payment


def load_category(category_id, *, active_only: bool = False):
    """Staff see every category; the showcase (active_only) shows published ones only."""
    from app.models import Category

    category = get_or_404(Category, category_id)
    if (active_only or not current_user.is_staff) and not category.is_active:
        abort(404)
    return category


def load_category_image(image_id):
    from app.models import CategoryImage

    return get_or_404(CategoryImage, image_id)


def load_content(content_id):
    """A partner's category content: staff see all; a CP only its own."""
    from app.models import CpCategoryContent

    content = get_or_404(CpCategoryContent, content_id)
    if current_user.is_cp and (current_user.partner is None or content.cp_id != current_user.partner.id):
        abort(404)
    return content


def load_content_image(content, image_id):
    from app.models import ContentImage

    image = get_or_404(ContentImage, image_id)
    if image.content_id != content.id:
        abort(404)
    return image


def load_fee_settlement(settlement_id):
    """A platform-fee settlement: staff only (a CP never sees the platform's own money)."""
    from app.models import PlatformFeeSettlement

    if not current_user.is_staff:
        abort(404)
    return get_or_404(PlatformFeeSettlement, settlement_id)


def load_lead(lead_id, *, edit: bool = False):
    """Staff see every lead; a CP sees leads assigned to it or originated by it, and edits only assigned ones.

    A lead the CP originated but does not work is visible, so editing it is refused (403); any
    other lead is missing (404).
    """
    from app.models import Lead

    lead = get_or_404(Lead, lead_id)
    if current_user.is_staff:
        return lead
    partner = current_user.partner
    if partner is not None and lead.allocated_to == partner.id:
        return lead
    if partner is not None and lead.originated_by == partner.id:
        if edit:
            abort(403)
        return lead
    abort(404)


def load_notification(notification_id):
    """A notification: only its recipient may touch it (404 for everyone else, staff included)."""
    from app.models import Notification

    notification = get_or_404(Notification, notification_id)
    if notification.user_id != current_user.id:
        abort(404)
    return notification


def load_report_export(export_id):
    """A report export: only the user who asked for it may follow or download it."""
    from app.models import ReportExport

    export = get_or_404(ReportExport, export_id)
    if export.requested_by != current_user.id:
        abort(404)
    return export
