"""Intake records for the route walk: a lead waiting for review, a pending credit and a category's fields."""

from decimal import Decimal

from app.extensions import db
from app.models import CategoryField, OriginationCredit
from tests import factories


def add(world):
    cp = world["partners"]["cp"]
    category_id = world["ids"]["category"]
    review_lead = factories.make_lead(
        originator=cp, title="Waiting for review", category_id=category_id, intake_status="pending_review"
    )
    credited = factories.make_lead(originator=cp, title="Approved and credited", category_id=category_id)
    credit = OriginationCredit(
        lead_id=credited.id,
        partner_id=cp.id,
        kind="approval",
        amount=Decimal("25.00"),
        basis="Fixed credit on approval",
    )
    field = CategoryField(
        category_id=category_id, key="roof_area", label="Roof area", field_type="number", sort_order=1
    )
    spare = CategoryField(
        category_id=category_id,
        key="colour",
        label="Colour",
        field_type="choice",
        choices=["Red", "Blue"],
        sort_order=2,
    )
    db.session.add_all([credit, field, spare])
    db.session.flush()
    world["ids"].update(review_lead=review_lead.id, credit=credit.id, category_field=field.id, spare_field=spare.id)
