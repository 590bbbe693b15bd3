"""/api/v1/leads: create (the whole intake, idempotent), list, read, and work a lead with the pipeline's own
operations (amounts, stage, allocation), under the same rules as the pages."""

import marshmallow as ma
from flask_smorest import Blueprint

from app.access import ADMIN, ANY_USER, CP, roles
from app.api.fields import BoundedInt, Money, Timestamp
from app.api.pagination import PageArgs, keyset_page, page_schema
from app.api.principal import acting_user, current_principal, scope
from app.extensions import db
from app.leads import feed, intake, pipeline
from app.leads.fields import CUSTOM_PREFIX, STANDARD_FIELDS, LeadDataInvalid
from app.loaders import load_category, load_lead, load_partner
from app.models import Lead
from app.models.leads import ALLOCATION_STATUSES, CHANNELS, INTAKE_STATUSES, STAGES

blp = Blueprint("api_leads", __name__, url_prefix="/leads", description="Leads")


class LeadOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String()
    category_id = ma.fields.UUID(allow_none=True)
    channel = ma.fields.String(required=True)
    intake_status = ma.fields.String(required=True)
    allocation_status = ma.fields.String(required=True)
    stage = ma.fields.String(attribute="kanban_stage", required=True)
    quality_score = ma.fields.Integer(required=True)
    score_breakdown = ma.fields.Dict()
    duplicate_of_id = ma.fields.UUID(allow_none=True)
    originated_by = ma.fields.UUID(allow_none=True, metadata={"description": "The originating partner's id"})
    allocated_to = ma.fields.UUID(allow_none=True, metadata={"description": "The partner working the lead"})
    first_name = ma.fields.String(allow_none=True)
    last_name = ma.fields.String(allow_none=True)
    contact_email = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True)
    contact_company = ma.fields.String(allow_none=True)
    job_title = ma.fields.String(allow_none=True)
    industry = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    lead_type = ma.fields.String(allow_none=True)
    budget = ma.fields.String(allow_none=True)
    timeline = ma.fields.String(allow_none=True)
    custom_fields = ma.fields.Dict()
    lead_value = Money(allow_none=True)
    commission_amount = Money(allow_none=True)
    platform_fee_amount = Money(allow_none=True)
    net_commission = Money(allow_none=True)
    lost_reason = ma.fields.String(allow_none=True)
    rejection_reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(required=True, metadata={"description": "Send it back when changing the lead"})
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


_FIELD_TEXT = {"validate": ma.validate.Length(max=5000), "load_default": None, "allow_none": True}
LeadIn = ma.Schema.from_dict(
    {
        "category_id": ma.fields.UUID(load_default=None, allow_none=True),
        "title": ma.fields.String(validate=ma.validate.Length(max=200), load_default=None, allow_none=True),
        **{spec.name: ma.fields.String(**_FIELD_TEXT) for spec in STANDARD_FIELDS},
        "custom_fields": ma.fields.Dict(
            keys=ma.fields.String(validate=ma.validate.Length(1, 60)),
            values=ma.fields.Raw(allow_none=True),
            load_default=dict,
            metadata={"description": "The category's own fields, by key (GET /api/v1/categories/{id})"},
        ),
    },
    name="LeadIn",
)


# A supplier's lead, as the docs show it (and Schemathesis' examples phase sends it, reaching the 201 path).
EXAMPLE = {
    "title": "Rooftop solar for a warehouse",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "contact_email": "ada@example.org",
    "contact_phone": "+1 415 555 0100",
    "contact_company": "Engines Ltd",
    "lead_type": "business",
    "budget": "25k_100k",
    "timeline": "quarter",
    "description": "About 400 m2 of flat roof; wants a quote this quarter.",
}


class LeadListArgs(PageArgs):
    stage = ma.fields.String(validate=ma.validate.OneOf(STAGES))
    intake_status = ma.fields.String(validate=ma.validate.OneOf(INTAKE_STATUSES))
    allocation_status = ma.fields.String(validate=ma.validate.OneOf(ALLOCATION_STATUSES))
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    category_id = ma.fields.UUID()
    partner_id = ma.fields.UUID(metadata={"description": "The partner working the lead (staff)"})
    created_after = Timestamp()


class AmountsIn(ma.Schema):
    lead_value = Money(required=True, allow_none=True)
    commission_amount = Money(required=True, allow_none=True)
    version = BoundedInt(minimum=1, required=True)


class StageIn(ma.Schema):
    stage = ma.fields.String(required=True, validate=ma.validate.OneOf(STAGES))
    lost_reason = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=1000))
    version = BoundedInt(minimum=1, required=True)


class AllocateIn(ma.Schema):
    partner_id = ma.fields.UUID(required=True)
    version = BoundedInt(minimum=1, load_default=None, allow_none=True)


def _as_text(value) -> str:
    return "" if value is None else str(value)


def _request_name(field: str) -> str:
    return f"custom_fields.{field.removeprefix(CUSTOM_PREFIX)}" if field.startswith(CUSTOM_PREFIX) else field


def _submission(body: dict) -> dict:
    """The JSON body as the flat mapping every channel hands to intake (custom fields as cf_<key>)."""
    data = {name: _as_text(value) for name, value in body.items() if name not in ("custom_fields", "category_id")}
    data.update({CUSTOM_PREFIX + key: _as_text(value) for key, value in body["custom_fields"].items()})
    return data


@blp.route("", methods=["GET"])
@roles(*ANY_USER)
@scope("leads:read")
@blp.arguments(LeadListArgs, location="query")
@blp.response(200, page_schema(LeadOut, "LeadPage"))
def list_leads(args):
    """Leads you may see, newest first"""
    if acting_user().is_cp:
        args.pop("partner_id", None)
    parts, values = feed.statement(acting_user(), args)
    return keyset_page(parts, Lead, args, values)


@blp.route("", methods=["POST"])
@roles(CP, ADMIN)
@scope("leads:write")
@blp.arguments(LeadIn, example=EXAMPLE)
@blp.response(201, LeadOut)
@blp.alt_response(409, description="A business rule refused it (the partner's monthly quota, its status)")
def create_lead(body):
    """Submit a lead: validated, scored and checked for duplicates like every channel

    Send an `Idempotency-Key` header to make a retry safe: the same key with the same body answers with the
    lead first created; the same key with another body is refused (422)."""
    category = load_category(body["category_id"]) if body["category_id"] else None
    principal = current_principal()
    key = principal.key
    try:
        lead = intake.submit_from_api(
            _submission(body), category, acting_user(), via_key=key is not None, trusted=bool(key and key.trusted)
        )
    except LeadDataInvalid as invalid:  # name the category's fields as the request sent them
        invalid.errors = {_request_name(name): message for name, message in invalid.errors.items()}
        raise
    db.session.commit()
    return lead


@blp.route("/<uuid:lead_id>", methods=["GET"])
@roles(*ANY_USER)
@scope("leads:read")
@blp.response(200, LeadOut)
def get_lead(lead_id):
    """One lead"""
    return load_lead(lead_id)


@blp.route("/<uuid:lead_id>/amounts", methods=["PUT"])
@roles(CP, ADMIN)
@scope("leads:write")
@blp.arguments(AmountsIn)
@blp.response(200, LeadOut)
@blp.alt_response(409, description="The lead changed since you read it (version), or its commission is paid")
def set_amounts(body, lead_id):
    """Set the lead value and commission amount (the platform fee and net follow)"""
    lead = load_lead(lead_id, edit=True)
    pipeline.set_amounts(lead, body["lead_value"], body["commission_amount"], acting_user(), body["version"])
    db.session.commit()
    return lead


@blp.route("/<uuid:lead_id>/stage", methods=["POST"])
@roles(CP, ADMIN)
@scope("leads:write")
@blp.arguments(StageIn)
@blp.response(200, LeadOut)
@blp.alt_response(409, description="The lead changed since you read it (version)")
def change_stage(body, lead_id):
    """Move the lead to a pipeline stage (Lost needs a reason; Won opens the commission)"""
    lead = load_lead(lead_id, edit=True)
    pipeline.change_stage(lead, body["stage"], acting_user(), body["version"], body["lost_reason"])
    db.session.commit()
    return lead


@blp.route("/<uuid:lead_id>/allocate", methods=["POST"])
@roles(ADMIN)
@scope("leads:write")
@blp.arguments(AllocateIn)
@blp.response(200, LeadOut)
def allocate(body, lead_id):
    """Allocate the lead to a partner (admins)"""
    lead = load_lead(lead_id)
    pipeline.allocate(lead, load_partner(body["partner_id"]), acting_user(), expected_version=body["version"])
    db.session.commit()
    return lead
