"""Report exports built in the background (large PDFs), with progress the page polls."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk


class ReportExport(Timestamps, db.Model):
    __tablename__ = "report_exports"

    id: Mapped[uuid.UUID] = pk()
    requested_by: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE")
    kind: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    params: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(
        enum("queued", "running", "done", "failed", name="report_status"), nullable=False, index=True
    )
    progress: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    total: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True, ondelete="SET NULL")
    error: Mapped[str | None] = mapped_column(sa.Text)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    file = relationship("StoredFile")
