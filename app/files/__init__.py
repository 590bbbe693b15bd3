"""/files: authorised downloads, and the direct-to-S3 upload handshake (presign, then confirm)."""

from flask import Blueprint, abort, jsonify, redirect, request, send_file, url_for
from flask_login import current_user

from app.access import ANY_USER, roles
from app.extensions import db
from app.files import storage
from app.loaders import get_or_404, load_stored_file
from app.models import StoredFile

bp = Blueprint("files", __name__)


@bp.app_template_global("direct_upload_enabled")
def direct_upload_enabled() -> bool:
    """base.html sets <body data-direct-upload> with it, which switches static/js/direct_upload.js on."""
    return storage.direct_upload_enabled()


@bp.get("/files/<file_id>", endpoint="download")
@roles(*ANY_USER)
def download(file_id):
    return send_stored_file(load_stored_file(file_id))


def send_stored_file(stored_file: StoredFile):
    """The answer that hands over a file the caller may see (checked already): a redirect to a short-lived S3
    link, or the bytes from local disk. Used by /files/<id> and the API's file operations."""
    url = storage.presigned_download_url(stored_file)
    if url:
        return redirect(url, code=302)
    path = storage.local_path(stored_file)
    if path is None or not path.exists():
        abort(404)
    response = send_file(path, mimetype=stored_file.content_type, conditional=True, etag=True, max_age=0)
    response.headers["Content-Disposition"] = storage.content_disposition(stored_file)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _size_field() -> int:
    try:
        return int(request.form.get("size", ""))
    except ValueError:
        return -1


@bp.post("/files/presign", endpoint="presign")
@roles(*ANY_USER)
def presign():
    """JSON for the browser: where to POST the bytes (S3 form fields) and the file id to confirm."""
    kind, filename = request.form.get("kind", ""), request.form.get("filename", "")
    if not kind or not filename:
        return jsonify(error="Say which file (kind, filename, size) you want to upload."), 422
    if not storage.may_upload_directly(current_user, kind):
        abort(404)
    cp_id = current_user.partner.id if current_user.is_cp and current_user.partner else None
    try:
        stored_file, form = storage.presign_upload(kind, filename, _size_field(), actor=current_user, cp_id=cp_id)
    except storage.UploadRejected as exc:
        return jsonify(error=str(exc)), 422
    db.session.commit()
    confirm = url_for("files.confirm", file_id=stored_file.id)
    return jsonify(file_id=str(stored_file.id), url=form["url"], fields=form["fields"], confirm_url=confirm)


@bp.post("/files/<file_id>/confirm", endpoint="confirm")
@roles(*ANY_USER)
def confirm(file_id):
    stored_file = get_or_404(StoredFile, file_id)
    if stored_file.uploaded_by != current_user.id or stored_file.is_ready:
        abort(404)
    try:
        storage.confirm_upload(stored_file, actor=current_user)
    except storage.UploadRejected as exc:
        db.session.commit()  # the rejected object and its row are gone for good
        return jsonify(error=str(exc)), 422
    db.session.commit()
    return jsonify(file_id=str(stored_file.id), name=stored_file.original_name)
