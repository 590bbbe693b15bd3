"""Public intake records for the route walk: a category's slug, cp's referral code, a used confirmation link."""

import sqlalchemy as sa

from app.extensions import db
from app.leads import confirmation
from app.models import LeadConfirmation
from app.models.base import utcnow
from tests import factories


def add(world):
    cp = world["partners"]["cp"]
    category = factories.make_category("Public Requests", accepts_public_requests=True)
    lead = factories.make_lead(
        title="Confirmed public request",
        category_id=category.id,
        channel="public_form",
        contact_email="prospect@example.test",
        first_name="Pat",
    )
    token = confirmation.new_token(lead)
    db.session.execute(sa.update(LeadConfirmation).where(LeadConfirmation.lead_id == lead.id).values(used_at=utcnow()))
    world["ids"].update(public_category_slug=category.slug, partner_code=cp.code, used_lead_confirmation=token)
