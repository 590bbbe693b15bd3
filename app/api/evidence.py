"""/api/v1/leads/{id}/evidence: a lead's evidence files, listed and fetched by whoever may see the lead, and added
through the upload handshake (app/api/uploads.py) by whoever may work it, with the pipeline's own operation."""

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint, abort
from sqlalchemy.orm import joinedload

from app.access import ADMIN, ANY_USER, CP, roles
from app.api import uploads
from app.api.fields import Timestamp
from app.api.pagination import PageArgs, keyset_page, page_schema
from app.api.principal import acting_user, scope
from app.extensions import db
from app.files import send_stored_file
from app.leads import pipeline
from app.loaders import get_or_404, load_lead, load_stored_file
from app.models import LeadEvidence
from app.models.leads import EVIDENCE_TYPES

blp = Blueprint("api_evidence", __name__, url_prefix="/leads", description="Lead evidence")

KIND = "evidence"


class EvidenceOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    lead_id = ma.fields.UUID(required=True)
    file_id = ma.fields.UUID(required=True)
    file_type = ma.fields.String(required=True, metadata={"enum": list(EVIDENCE_TYPES)})
    name = ma.fields.String(attribute="file.original_name", required=True)
    content_type = ma.fields.String(attribute="file.content_type", required=True)
    size_bytes = ma.fields.Integer(attribute="file.size_bytes", required=True)
    description = ma.fields.String(allow_none=True)
    uploaded_by = ma.fields.UUID(allow_none=True)
    created_at = Timestamp(required=True)


class EvidenceIn(ma.Schema):
    file_id = ma.fields.UUID(required=True, metadata={"description": "From POST /leads/{id}/evidence/uploads"})
    description = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=300))


def _workable_lead(lead_id):
    """The lead, if the caller may add to it: 404 when it may not see it, 403 when it only reads it."""
    lead = load_lead(lead_id, edit=True)
    if not pipeline.may_edit(acting_user(), lead):
        abort(403, message="You cannot change this lead.")
    return lead


@blp.route("/<uuid:lead_id>/evidence", methods=["GET"])
@roles(*ANY_USER)
@scope("leads:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(EvidenceOut, "EvidencePage"))
def list_evidence(args, lead_id):
    """The lead's evidence files, newest first"""
    lead = load_lead(lead_id)
    stmt = sa.select(LeadEvidence).where(LeadEvidence.lead_id == lead.id).options(joinedload(LeadEvidence.file))
    return keyset_page(stmt, LeadEvidence, args)


@blp.route("/<uuid:lead_id>/evidence/uploads", methods=["POST"])
@roles(CP, ADMIN)
@scope("leads:write")
@blp.arguments(uploads.UploadIn)
@blp.response(201, uploads.UploadTicket)
def reserve_evidence(body, lead_id):
    """Reserve an evidence file: where to send its bytes (step 1 of adding evidence)

    POST the bytes to `upload_url` (multipart: `fields`, then the file as `file`), then name `file_id` in
    POST /leads/{id}/evidence. Images, PDF and office documents are accepted."""
    lead = _workable_lead(lead_id)
    return uploads.ticket(KIND, body, cp_id=lead.allocated_to)


@blp.route("/<uuid:lead_id>/evidence", methods=["POST"])
@roles(CP, ADMIN)
@scope("leads:write")
@blp.arguments(EvidenceIn)
@blp.response(201, EvidenceOut)
def add_evidence(body, lead_id):
    """Attach an uploaded file to the lead as evidence (its bytes are checked now)"""
    lead = _workable_lead(lead_id)
    upload = uploads.claimable(body["file_id"], KIND, "file_id")
    try:
        evidence = pipeline.add_evidence(lead, upload, acting_user(), body["description"])
    except pipeline.PipelineError as exc:
        if exc.field != "file":
            raise
        uploads.upload_refused(exc, "file_id")
    db.session.commit()
    return evidence


@blp.route("/<uuid:lead_id>/evidence/<uuid:evidence_id>/file", methods=["GET"])
@roles(*ANY_USER)
@scope("leads:read")
@blp.response(200, description="The file's bytes (local storage), with its type and name")
@blp.alt_response(302, description="With S3 storage: a short-lived link to the file")
def evidence_file(lead_id, evidence_id):
    """Download one evidence file"""
    lead = load_lead(lead_id)
    evidence = get_or_404(LeadEvidence, evidence_id)
    if evidence.lead_id != lead.id:
        abort(404)
    return send_stored_file(load_stored_file(evidence.file_id))
