"""The API's file handshake (evidence, bank slips, client-payment proofs): reserve, send the bytes, name the file.

1. An operation that takes a file first reserves it (POST /leads/{id}/evidence/uploads, POST /money/uploads) and
   answers an UploadTicket: where to POST the bytes, as multipart/form-data with the ticket's `fields` followed by
   the file itself as `file`.
2. The client POSTs there, with no credentials: with S3 storage straight to the bucket (a presigned POST); with
   local storage to POST /api/v1/uploads/{file_id}, which the signed, short-lived token in its URL authorises.
3. The client names `file_id` in the operation that uses the file; its bytes are checked then (size, type by
   content) and the file is claimed by it: once, by the user who reserved it, for what it was reserved for.
This is the pages' direct upload (app/files, storage.presign_upload / confirm_upload / claim_direct_upload) on
both backends.
"""

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, url_for
from flask_smorest import Blueprint, abort
from flask_smorest.fields import Upload
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.access import public
from app.api.fields import BoundedInt
from app.api.principal import acting_user
from app.extensions import db
from app.files import storage
from app.models import StoredFile

blp = Blueprint("api_uploads", __name__, url_prefix="/uploads", description="File uploads")

MAX_NAME = 255


class UploadIn(ma.Schema):
    filename = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, MAX_NAME),
        metadata={"description": "The file's name; its extension says its type (.pdf, .png, .jpg, .docx ...)"},
    )
    size = BoundedInt(minimum=1, required=True, metadata={"description": "Its size in bytes"})


class UploadTicket(ma.Schema):
    file_id = ma.fields.UUID(required=True, metadata={"description": "Name it in the operation that uses the file"})
    upload_url = ma.fields.String(required=True, metadata={"description": "POST the bytes here, without credentials"})
    method = ma.fields.String(required=True, metadata={"description": "Always POST (multipart/form-data)"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"description": "Form fields to send first, as they are"},
    )
    file_field = ma.fields.String(required=True, metadata={"description": "The form field that carries the file"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds the ticket stays valid"})


class TicketArgs(ma.Schema):
    token = ma.fields.String(required=True, validate=ma.validate.Length(1, 400))


class FileIn(ma.Schema):
    file = Upload(required=True)


def _seconds() -> int:
    return int(current_app.config.get("S3_PRESIGN_SECONDS") or 300)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-upload-ticket")


def ticket(kind: str, body: dict, *, cp_id=None) -> dict:
    """Reserve a file of `kind` for the caller and answer where to send its bytes (commits the reservation)."""
    actor = acting_user()
    if not storage.may_upload_directly(actor, kind):
        abort(403, message="Your role may not upload this kind of file.")
    try:
        if storage.direct_upload_enabled():
            row, form = storage.presign_upload(kind, body["filename"], body["size"], actor=actor, cp_id=cp_id)
            url, fields = form["url"], dict(form["fields"])
        else:
            row = storage.reserve_upload(kind, body["filename"], body["size"], actor=actor, cp_id=cp_id)
            token = _serializer().dumps(str(row.id))
            url, fields = url_for("api_uploads.receive", file_id=row.id, token=token, _external=True), {}
    except storage.UploadRejected as exc:
        db.session.rollback()
        abort(422, message=str(exc), errors={getattr(exc, "field", "filename"): [str(exc)]})
    db.session.commit()
    return {
        "file_id": row.id,
        "upload_url": url,
        "method": "POST",
        "fields": fields,
        "file_field": "file",
        "expires_in": _seconds(),
    }


def claimable(file_id, kind: str, field: str) -> storage.ClaimedUpload:
    """The caller's reserved file `file_id` of `kind`, its bytes checked now (what arrived in S3 is confirmed;
    a rejected object and its reservation are removed for good), as the operation's storage call claims it.
    Anything else is a 422 on `field`: the id names no upload of the caller's for this purpose."""
    row = db.session.get(StoredFile, file_id)
    if row is None or row.uploaded_by != acting_user().id or row.kind != kind or not row.awaiting_claim:
        abort(422, errors={field: ["No upload of yours waits under this id: reserve and send the file again."]})
    if not row.is_ready:
        try:
            storage.confirm_upload(row, actor=acting_user())
        except storage.UploadRejected as exc:
            db.session.commit()  # the object and its reservation are gone
            abort(422, message=str(exc), errors={field: [str(exc)]})
    return storage.ClaimedUpload(str(file_id), handshake=True)


def upload_refused(exc: Exception, field: str):
    """A file that failed its checks when the operation claimed it: nothing was written (422 on `field`)."""
    db.session.rollback()
    abort(422, message=str(exc), errors={field: [str(exc)]})


@blp.route("/<uuid:file_id>", methods=["POST"])
@public
@blp.arguments(TicketArgs, location="query")
@blp.arguments(FileIn, location="files")
@blp.response(204, description="Received: name the file_id in the operation that uses it")
@blp.alt_response(403, description="The ticket is not valid for this file, or it has expired")
@blp.alt_response(409, description="This file has already been received")
def receive(args, files, file_id):
    """Send a reserved file's bytes (local storage; the upload_url of an UploadTicket)

    No credentials: the ticket's token in the URL is the authority, as a presigned S3 POST's signature is."""
    try:
        named = _serializer().loads(args["token"], max_age=_seconds())
    except (BadSignature, SignatureExpired):
        named = None
    if named != str(file_id):
        abort(403, message="This upload ticket is not valid for this file, or it has expired: reserve it again.")
    stmt = sa.select(StoredFile).where(StoredFile.id == file_id).with_for_update()
    row = db.session.scalar(stmt.execution_options(populate_existing=True))
    if row is None or storage.direct_upload_enabled():
        abort(404, message="No upload waits here.")
    if row.is_ready or not row.awaiting_claim:
        abort(409, message="This file has already been received.")
    try:
        storage.receive_upload(row, files["file"])
    except storage.UploadRejected as exc:
        upload_refused(exc, "file")
    db.session.commit()
    return None
