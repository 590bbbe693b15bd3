"""File storage: one interface over local disk or S3, upload checks, and who may see which file.

Bytes live in the backend under a generated key; the StoredFile row keeps the original name for
display. A rejected upload writes nothing; bytes written in a transaction that rolls back are removed.

With S3 the browser may send the bytes straight to the bucket (presign, POST, confirm); the form then
carries only the file's id, which save_upload claims (ClaimedUpload) instead of storing bytes.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db
from app.files.backends import current_backend
from app.files.checks import (
    TYPE_BY_EXTENSION,
    TYPES,
    Limits,
    UploadRejected,
    check_content,
    clean_name,
    magic_matches,
)
from app.jobs.after_commit import on_commit
from app.models import (
    StoredFile,
)

__all__ = [
    "UploadRejected",
    "ClaimedUpload",
    "has_upload",
    "save_upload",
    "save_bytes",
    "read_bytes",
    "delete",
    "presign_upload",
    "reserve_upload",
    "receive_upload",
    "confirm_upload",
    "claim_direct_upload",
    "content_disposition",
    "direct_upload_enabled",
    "may_upload_directly",
]

ALL_GROUPS = ("image", "pdf", "document")
# What each kind of file may be when a browser sends it straight to S3 (the presign endpoint).
KIND_GROUPS = {
    "avatar": ("image",),
    "logo": ("image",),
    "category_image": ("image",),
    "content_image": ("image",),
    "evidence": ALL_GROUPS,
    "bank_slip": ("image", "pdf"),
    "client_payment": ("image", "pdf"),
    "payment_receipt": ("image", "pdf"),
    "lead_import": ("document",),  # app/leads/imports.py then accepts only .csv and .xlsx
    "training": ("pdf", "document", "image"),
}
# Kinds whose files may be larger than MAX_UPLOAD_BYTES.
KIND_MAX_BYTES = {"lead_import": 20 * 1024 * 1024}
# Who may ask for a direct upload of each kind.
DIRECT_UPLOAD_ROLES = {
    "avatar": {"channel_partner", "admin", "super_admin"},
    "logo": {"channel_partner"},
    "content_image": {"channel_partner"},
    "payment_receipt": {"channel_partner"},
    "evidence": {"channel_partner", "admin"},
    "category_image": {"admin", "super_admin"},
    "bank_slip": {"admin"},
    "client_payment": {"admin"},
    "lead_import": {"channel_partner", "admin"},
    "training": {"admin"},
}
PUBLIC_KINDS = {"logo", "avatar", "category_image", "content_image"}
_WRITTEN = "storage_written_keys"


def _max_bytes(kind: str | None = None) -> int:
    return KIND_MAX_BYTES.get(kind) or int(current_app.config["MAX_UPLOAD_BYTES"])


def upload_limits() -> Limits:
    """What checking one uploaded file may cost (app/files/checks.py), from the configuration."""
    config = current_app.config
    return Limits(
        image_pixels=int(config["MAX_IMAGE_PIXELS"]),
        image_decode_bytes=int(config["MAX_IMAGE_DECODE_BYTES"]),
        image_frames=int(config["MAX_IMAGE_FRAMES"]),
        image_metadata_bytes=int(config["MAX_IMAGE_METADATA_BYTES"]),
        archive_unpacked_bytes=int(config["MAX_ARCHIVE_UNPACKED_BYTES"]),
        archive_entries=int(config["MAX_ARCHIVE_ENTRIES"]),
        archive_ratio=int(config["MAX_ARCHIVE_RATIO"]),
    )


def _new_key(kind: str, ext: str) -> str:
    now = datetime.now(UTC)
    return f"{kind}/{now:%Y/%m}/{uuid.uuid4().hex}.{ext}"


def _remember_written(backend, key: str) -> None:
    db.session.info.setdefault(_WRITTEN, []).append((backend, key))


@event.listens_for(Session, "after_commit")
def _forget_written(session):
    session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_rollback")
def _remove_written(session):
    """A transaction that rolled back leaves no bytes behind."""
    for backend, key in session.info.pop(_WRITTEN, []):
        try:
            backend.delete(key)
        except Exception:  # noqa: BLE001  (cleanup is best effort; the row never existed)
            current_app.logger.warning("could not remove orphaned upload %s", key)


def _store(data: bytes, kind: str, name: str, content_type: str, ext: str, actor, cp_id) -> StoredFile:
    backend = current_backend()
    key = _new_key(kind, ext)
    backend.put(key, data, content_type)
    _remember_written(backend, key)
    row = StoredFile(
        kind=kind,
        storage_key=key,
        original_name=name,
        content_type=content_type,
        size_bytes=len(data),
        uploaded_by=getattr(actor, "id", None),
        cp_id=cp_id,
        is_ready=True,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _read_upload(file) -> bytes:
    stream = getattr(file, "stream", file)
    return stream.read(_max_bytes() + 1)


@dataclass(frozen=True)
class ClaimedUpload:
    """What a form carries instead of bytes when the browser already uploaded the file straight to S3:
    the id of the confirmed StoredFile (see DirectFileField). save_upload claims it.

    `handshake` marks a file reserved through the API's upload handshake (app/api/uploads.py), which works on
    every backend: its bytes went to S3 or to the API itself (receive_upload), never with a form."""

    file_id: str
    handshake: bool = False

    def __bool__(self) -> bool:
        return bool(self.file_id)


def has_upload(file) -> bool:
    """True when a form field holds something to store: a chosen file or a direct upload's id."""
    return isinstance(file, ClaimedUpload) or bool(getattr(file, "filename", None))


def _group_of(content_type: str) -> str | None:
    return next((t.group for t in TYPES.values() if t.content_type == content_type), None)


def save_upload(file, kind: str, *, actor, cp_id=None, allowed=ALL_GROUPS) -> StoredFile:
    """Check a werkzeug FileStorage and store it, or claim a ClaimedUpload (a direct upload to S3).

    Raises UploadRejected (nothing stored, nothing claimed) when it fails a check.
    """
    if isinstance(file, ClaimedUpload):
        if not file.handshake and not direct_upload_enabled():
            raise UploadRejected("Direct upload is not available; send the file with the form.")
        row = claim_direct_upload(file.file_id, kind, actor=actor)
        if _group_of(row.content_type) not in allowed:
            raise UploadRejected("This type of file is not accepted here.")
        row.cp_id = cp_id  # whose data it is, as for a file sent through the app
        db.session.flush()
        return row
    if file is None or not getattr(file, "filename", None):
        raise UploadRejected("Choose a file to upload.")
    name, ext = clean_name(file.filename)
    data = _read_upload(file)
    file_type = check_content(data, ext, allowed, _max_bytes(), upload_limits())
    return _store(data, kind, name, file_type.content_type, ext, actor, cp_id)


def save_bytes(data: bytes, kind: str, original_name: str, content_type: str, *, actor=None, cp_id=None) -> StoredFile:
    """Store bytes the app generated itself (receipts, reports, demo images); no content checks."""
    ext = original_name.rpartition(".")[2].lower() if "." in original_name else "bin"
    return _store(data, kind, original_name[:255], content_type, ext[:10] or "bin", actor, cp_id)


def read_bytes(stored_file: StoredFile) -> bytes:
    return current_backend().get(stored_file.storage_key)


def local_path(stored_file: StoredFile):
    """The file's path on disk with the local backend, else None."""
    backend = current_backend()
    return backend._path(stored_file.storage_key) if backend.name == "local" else None


def delete(stored_file: StoredFile) -> None:
    """Remove the row now and the bytes once the transaction commits (a rollback keeps both)."""
    backend, key = current_backend(), stored_file.storage_key
    db.session.delete(stored_file)
    db.session.flush()
    on_commit(db.session, lambda: backend.delete(key))


# --- downloads and direct-to-S3 uploads -------------------------------------------------------


def is_inline(stored_file: StoredFile) -> bool:
    return stored_file.content_type in {"image/jpeg", "image/png", "image/webp", "application/pdf"}


def content_disposition(stored_file: StoredFile) -> str:
    """inline for images and PDFs, attachment otherwise; an ASCII fallback plus the RFC 5987 filename*."""
    name = stored_file.original_name
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    disposition = "inline" if is_inline(stored_file) else "attachment"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def presigned_download_url(stored_file: StoredFile) -> str | None:
    backend = current_backend()
    if backend.name != "s3":
        return None
    return backend.presigned_get(stored_file.storage_key, stored_file.content_type, content_disposition(stored_file))


def may_upload_directly(user, kind: str) -> bool:
    return user.role in DIRECT_UPLOAD_ROLES.get(kind, set())


def direct_upload_enabled() -> bool:
    return current_backend().supports_direct_upload


def presign_upload(kind: str, filename: str, size: int, *, actor, cp_id=None) -> tuple[StoredFile, dict]:
    """Reserve a StoredFile (not ready) and a presigned POST for the browser to send the bytes to S3."""
    backend = current_backend()
    if not backend.supports_direct_upload:
        raise UploadRejected("Direct upload is not available; send the file with the form.")
    row = reserve_upload(kind, filename, size, actor=actor, cp_id=cp_id)
    return row, backend.presigned_post(row.storage_key, row.content_type, _max_bytes(kind))


def _size_rejected(message: str) -> UploadRejected:
    rejected = UploadRejected(message)
    rejected.field = "size"  # the API answers it beside the size it was told, not the name
    return rejected


def reserve_upload(kind: str, filename: str, size: int, *, actor, cp_id=None) -> StoredFile:
    """A StoredFile (not ready, awaiting its claim) for a file of `kind` that is about to be sent: its name, type
    and announced size checked now, its bytes checked when they arrive (confirm_upload, receive_upload)."""
    allowed = KIND_GROUPS.get(kind)
    if allowed is None:
        raise UploadRejected("This kind of file cannot be uploaded here.")
    name, ext = clean_name(filename)
    type_key = TYPE_BY_EXTENSION.get(ext)
    if type_key is None or TYPES[type_key].group not in allowed:
        raise UploadRejected("This type of file is not accepted here.")
    if size <= 0:
        raise _size_rejected("The file is empty.")
    if size > _max_bytes(kind):
        raise _size_rejected(f"The file is too large (the limit is {_max_bytes(kind) // (1024 * 1024)} MB).")
    content_type = TYPES[type_key].content_type
    row = StoredFile(
        kind=kind,
        storage_key=_new_key(kind, ext),
        original_name=name,
        content_type=content_type,
        size_bytes=size,
        uploaded_by=actor.id,
        cp_id=cp_id,
        is_ready=False,
        awaiting_claim=True,
    )
    db.session.add(row)
    db.session.flush()
    return row


def receive_upload(row: StoredFile, file) -> StoredFile:
    """The bytes of a reserved file, sent to the app rather than to S3 (the API's handshake on local storage):
    checked by content like any upload, written under the reserved key, and the file marked ready. A rejected
    file writes nothing and leaves the reservation as it was, so it may be sent again."""
    if row.is_ready or not row.awaiting_claim:
        raise UploadRejected("This file has already been uploaded.")
    if file is None or not getattr(file, "filename", None):
        raise UploadRejected("Choose a file to upload.")
    ext = row.storage_key.rpartition(".")[2]
    data = getattr(file, "stream", file).read(_max_bytes(row.kind) + 1)
    file_type = check_content(data, ext, KIND_GROUPS[row.kind], _max_bytes(row.kind), upload_limits())
    backend = current_backend()
    backend.put(row.storage_key, data, file_type.content_type)
    _remember_written(backend, row.storage_key)
    row.size_bytes, row.content_type, row.is_ready = len(data), file_type.content_type, True
    db.session.flush()
    return row


def confirm_upload(stored_file: StoredFile, *, actor) -> StoredFile:
    """Check what the browser put in S3 (size, then magic bytes by a ranged GET) and mark the file ready.

    A bad object is deleted and the row removed, and UploadRejected is raised.
    """
    backend = current_backend()
    size = backend.size(stored_file.storage_key)
    ext = stored_file.storage_key.rpartition(".")[2]
    problem = None
    if size is None:
        problem = "The upload did not arrive. Please try again."
    elif size == 0 or size > _max_bytes(stored_file.kind):
        problem = "The file is empty or too large."
    elif not magic_matches(TYPE_BY_EXTENSION[ext], backend.head_bytes(stored_file.storage_key, 64)):
        problem = f"The file's content does not match its .{ext} extension."
    if problem:
        if size is not None:
            backend.delete(stored_file.storage_key)
        db.session.delete(stored_file)
        db.session.flush()
        raise UploadRejected(problem)
    stored_file.size_bytes = size
    stored_file.is_ready = True
    db.session.flush()
    return stored_file


def claim_direct_upload(file_id, kind: str, *, actor) -> StoredFile:
    """The confirmed direct upload `file_id`, if `actor` uploaded it for this kind and no form has claimed it
    yet; else UploadRejected.

    The row is read under FOR UPDATE, so of two requests claiming the same id the second waits for the first
    to commit and then finds it claimed. A form that fails after the claim rolls back, and the upload stays
    free to claim. One never claimed is abandoned: purge_abandoned_uploads removes it.
    """
    try:
        file_uuid = uuid.UUID(str(file_id))
    except ValueError:
        file_uuid = None
    row = None
    if file_uuid is not None:
        db.session.flush()
        stmt = sa.select(StoredFile).where(StoredFile.id == file_uuid).with_for_update()
        row = db.session.scalar(stmt.execution_options(populate_existing=True))
    if row is None or row.uploaded_by != actor.id or row.kind != kind or not row.is_ready:
        raise UploadRejected("The uploaded file could not be found. Please upload it again.")
    if not row.awaiting_claim:
        raise UploadRejected("That upload has already been used. Please upload the file again.")
    row.awaiting_claim = False
    return row


def purge_abandoned_uploads(older_than: timedelta) -> int:
    """Remove direct uploads presigned more than `older_than` ago that no form claimed (the browser gave up
    between upload and submit, or the upload was never confirmed): the object and the row. Returns how many."""
    cutoff = datetime.now(UTC).replace(tzinfo=None) - older_than
    stmt = sa.select(StoredFile).where(StoredFile.awaiting_claim, StoredFile.created_at < cutoff)
    rows = db.session.scalars(stmt.with_for_update(skip_locked=True)).all()
    for row in rows:
        delete(row)
    db.session.commit()
    return len(rows)
