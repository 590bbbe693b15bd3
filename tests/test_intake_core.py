"""Lead intake's core (SPEC 9.2): the one validator, normalisation, the quality score, duplicates and the
confirmation invariant, through the partner portal where a user meets them."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.leads import duplicates, fields, intake, scoring
from app.models import CategoryField, Lead
from app.models.base import utcnow
from tests import factories
from tests.conftest import is_postgres, login, requires_postgres

HX = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Dana.Lee@Example.COM", "dana.lee@example.com"),
        ("dana+quotes@example.com", "dana@example.com"),
        ("D.a.n.a+x@googlemail.com", "dana@gmail.com"),
        ("  dana@gmail.com ", "dana@gmail.com"),
    ],
)
def test_emails_are_compared_lower_case_without_tags_and_gmail_dots(raw, normal):
    assert fields.normalise_email(raw) == normal


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (202) 555-0143", "+12025550143"),
        ("202.555.0143", "+12025550143"),  # no country code: the default region (US)
        ("+44 20 7946 0958", "+442079460958"),
        ("011 44 20 7946 0958", "+442079460958"),  # dialled from the US
        ("+49 30 901820", "+4930901820"),
    ],
)
def test_phones_become_e164_with_the_phonenumbers_library(app, raw, e164):
    assert fields.to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["12", "+1 202 555", "call me", "+999 1234 5678", "+44 20 7946 0958 0958 0958"])
def test_numbers_that_are_not_phone_numbers_are_refused(app, raw):
    with pytest.raises(fields.LeadDataInvalid) as refused:
        fields.clean({"first_name": "A", "last_name": "B", "contact_phone": raw}, None)
    assert "valid phone number" in refused.value.errors["contact_phone"]


def test_the_validator_reports_every_field_at_once_and_checks_the_categorys_schema(app):
    category = factories.make_category("Solar")
    db.session.add_all(
        [
            CategoryField(category_id=category.id, key="roof", label="Roof", field_type="number", required=True),
            CategoryField(
                category_id=category.id, key="kind", label="Kind", field_type="choice", choices=["Flat", "Pitched"]
            ),
            CategoryField(category_id=category.id, key="cc", label="Copy to", field_type="email"),
        ]
    )
    db.session.flush()
    data = {"first_name": "", "last_name": "x" * 81, "contact_email": "nope", "lead_type": "alien", "cf_kind": "Dome"}
    with pytest.raises(fields.LeadDataInvalid) as refused:
        fields.clean({**data, "cf_cc": "a@"}, category)
    assert set(refused.value.errors) == {
        "first_name",
        "last_name",
        "contact_email",
        "lead_type",
        "cf_roof",
        "cf_kind",
        "cf_cc",
    }
    good = fields.clean(
        {
            "first_name": " Ana\x00 ",
            "last_name": "Ruiz",
            "contact_phone": "+1 202 555 0143",
            "cf_roof": "1,250.5",
            "cf_kind": "Flat",
        },
        category,
    )
    assert good.columns["first_name"] == "Ana" and good.custom == {"roof": "1250.5", "kind": "Flat"}
    assert good.columns["phone_e164"] == "+12025550143" and good.columns["contact_name"] == "Ana Ruiz"


def test_the_score_follows_the_weights_and_explains_itself(app):
    filled = {"first_name", "last_name", "contact_email", "contact_company", "job_title", "lead_type", "budget"}
    score, breakdown = scoring.score(filled, None, {"required": 30, "additional": 40, "qualification": 30})
    # required 3 of 4 → 22.5; additional 2 of 4 → 20; qualification 2 of 3 → 20; 62.5 rounds half up
    assert score == 63 and breakdown["required"]["points"] == 22.5 and breakdown["required"]["missing"] == ["Phone"]
    assert breakdown["qualification"]["missing"] == ["Timeline"] and breakdown["additional"]["max"] == 40
    heavy, _ = scoring.score(filled, None, {"required": 80, "additional": 10, "qualification": 10})
    assert heavy == 60 + 5 + 7  # 60 + 5 + 6.67, rounded once at the end
    full = {spec.name for spec in fields.STANDARD_FIELDS}
    assert (
        scoring.score(full, None, scoring.weights())[0] == 100 and scoring.score(set(), None, scoring.weights())[0] == 0
    )


def _submit(partner, email=None, phone=None, **kw):
    data = {"first_name": "Ana", "last_name": "Ruiz", "contact_email": email, "contact_phone": phone}
    return intake.submit(data, None, channel="portal", actor=partner.user, partner=partner, **kw)


def test_a_possible_duplicate_is_the_earliest_live_lead_of_the_last_90_days(app):
    first, second = factories.make_partner(), factories.make_partner()
    old = _submit(first, email="ana@ruiz.example")
    old.created_at = utcnow() - timedelta(days=91)
    recent = _submit(first, phone="+1 202 555 0143")
    recent.created_at = utcnow() - timedelta(days=89)
    db.session.flush()
    by_email = _submit(second, email="ANA+x@ruiz.example")
    assert by_email.duplicate_of_id is None  # the only match is older than 90 days
    by_phone = _submit(second, email="other@ruiz.example", phone="(202) 555-0143")
    assert by_phone.duplicate_of_id == recent.id
    recent.intake_status, recent.rejection_reason = "rejected", "spam"
    db.session.flush()
    assert _submit(second, phone="202 555 0143").duplicate_of_id == by_phone.id  # rejected leads do not count
    assert duplicates.find_duplicate(None, None) is None


def test_a_portal_lead_is_scored_confirmed_and_queued_for_review(app):
    partner = factories.make_partner()
    category = factories.make_category("Security")
    factories.make_lead(originator=partner, contact_email="dana@lee.example", email_normalized="dana@lee.example")
    db.session.commit()
    client = login(app.test_client(), partner.user)
    form = {"first_name": "Dana", "last_name": "Lee", "contact_email": "Dana@Lee.example", "budget": "5k_25k"}
    response = client.post(f"/cp/categories/{category.id}/lead", data=form, headers=HX)
    assert response.status_code == 200
    lead = db.session.scalar(sa.select(Lead).where(Lead.channel == "portal"))
    assert (lead.intake_status, lead.quality_score) == ("pending_review", 33)  # 22.5 + 10, half up
    assert lead.confirmed_at is not None and lead.duplicate_of_id is not None
    assert lead.score_breakdown["qualification"]["points"] == 10.0


def test_only_approved_leads_can_be_allocated(app):
    admin, partner = factories.make_user("admin"), factories.make_partner()
    lead = _submit(partner, email="x@y.example")
    db.session.commit()
    client = login(app.test_client(), admin)
    refused = client.post(
        f"/admin/leads/{lead.id}/allocate",
        data={"allocate-partner": str(partner.id), "allocate-version": str(lead.version), "allocate-override_type": ""},
        headers=HX,
    )
    assert refused.status_code == 422 and "Only approved leads can be allocated" in refused.get_data(as_text=True)
    assert db.session.get(Lead, lead.id).allocated_to is None


@requires_postgres
def test_the_database_refuses_a_lead_past_confirmation_without_confirmed_at(app):
    assert is_postgres()
    partner = factories.make_partner()
    lead = intake.submit(
        {"first_name": "A", "last_name": "B", "contact_email": "a@b.example"}, None, channel="public_form", actor=None
    )
    db.session.commit()
    assert lead.intake_status == "pending_confirmation" and lead.confirmed_at is None
    for status in ("pending_review", "approved", "distributed"):
        with pytest.raises(sa.exc.IntegrityError, match="confirmed_before_review"):
            db.session.execute(sa.update(Lead).where(Lead.id == lead.id).values(intake_status=status))
        db.session.rollback()
    assert partner.id and db.session.get(Lead, lead.id).intake_status == "pending_confirmation"
