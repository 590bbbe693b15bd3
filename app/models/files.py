"""Stored files: metadata here, bytes in the storage backend (local disk or S3)."""

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import Timestamps, enum, pk

FILE_KINDS = (
    "evidence",
    "bank_slip",
    "client_payment",
    "payment_receipt",
    "logo",
    "avatar",
    "category_image",
    "content_image",
    "report",
    "lead_import",  # an imported lead file and its rejected rows (app/leads/imports.py)
    "training",  # a training module's file (app/enablement/training.py), served by /cp/training/<id>/file
    "marketing_asset",  # an asset library file and its thumbnail (app/enablement/assets.py), served by /cp/assets/<id>/…
)


class StoredFile(Timestamps, db.Model):
    __tablename__ = "stored_files"

    id: Mapped[uuid.UUID] = pk()
    kind: Mapped[str] = mapped_column(enum(*FILE_KINDS, name="file_kind"), nullable=False, index=True)
    storage_key: Mapped[str] = mapped_column(sa.String(200), nullable=False, unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    # Plain indexed ids, not foreign keys: users and partners point at files (avatar, logo), and a
    # cycle of foreign keys would make table creation order ambiguous.
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    # The channel partner whose data this is (None for platform-wide files such as category images).
    cp_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    # False while a direct-to-S3 upload has been presigned but not yet confirmed.
    is_ready: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # True from presign until a form claims the direct upload: a file is claimed once, and one never claimed
    # is abandoned (`flask purge-abandoned-uploads` removes it).
    awaiting_claim: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
