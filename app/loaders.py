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
    if current_user.is_cp and partner.user_id != current_user.id:
        abort(404)
    return partner
