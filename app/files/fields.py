"""The form field for every file upload, and its "required" validator.

With S3 configured, static/js/direct_upload.js sends the chosen file straight to the bucket (presign,
POST, confirm) and puts the confirmed file's id in a hidden `<name>__file_id` input instead of the
bytes. The field then holds a storage.ClaimedUpload, which storage.save_upload claims for its kind.
Without S3 (or without JavaScript) the bytes come with the form as before.
"""

from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms.utils import unset_value
from wtforms.validators import StopValidation

from app.files.storage import KIND_GROUPS, ClaimedUpload, has_upload

CLAIM_SUFFIX = "__file_id"


class DirectFileField(FileField):
    """A file input of one storage kind (a key of storage.KIND_GROUPS), rendered with data-upload-kind.

    Its data is the uploaded FileStorage, or a ClaimedUpload when the form carried `<name>__file_id`
    and no bytes, or None.
    """

    def __init__(self, label=None, validators=None, *, kind: str, **kwargs):
        if kind not in KIND_GROUPS:
            raise ValueError(f"unknown upload kind {kind!r}")
        render_kw = {"data-upload-kind": kind, **(kwargs.pop("render_kw", None) or {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.kind = kind

    @property
    def claim_name(self) -> str:
        return self.name + CLAIM_SUFFIX

    def process(self, formdata, data=unset_value, extra_filters=None):
        super().process(formdata, data, extra_filters)
        if formdata is None or (isinstance(self.data, FileStorage) and self.data):
            return  # bytes sent with the form win over an id
        file_id = (formdata.get(self.claim_name) or "").strip()[:64]
        if file_id:
            self.data = ClaimedUpload(file_id)


class UploadRequired:
    """A file must be chosen: sent with the form, or uploaded directly (a ClaimedUpload)."""

    field_flags = {"required": True}

    def __init__(self, message: str | None = None):
        self.message = message

    def __call__(self, form, field):
        if not has_upload(field.data):
            field.errors[:] = []
            raise StopValidation(self.message or field.gettext("Choose a file to upload."))
