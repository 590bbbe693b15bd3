"""Channel partners: the reseller companies."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk

CP_STATUSES = ("pending", "approved", "rejected", "suspended")
BANK_FIELDS = ("bank_name", "bank_account_number", "bank_account_name", "bank_branch", "bank_swift_code")


class ChannelPartner(Timestamps, db.Model):
    __tablename__ = "channel_partners"

    id: Mapped[uuid.UUID] = pk()
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", unique=True)
    company_name: Mapped[str] = mapped_column(sa.String(200), nullable=False, index=True)
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    website: Mapped[str | None] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    logo_file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True, ondelete="SET NULL")
    status: Mapped[str] = mapped_column(enum(*CP_STATUSES, name="cp_status"), nullable=False, index=True)
    approved_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    bank_name: Mapped[str | None] = mapped_column(sa.String(120))
    bank_account_number: Mapped[str | None] = mapped_column(sa.String(60))
    bank_account_name: Mapped[str | None] = mapped_column(sa.String(120))
    bank_branch: Mapped[str | None] = mapped_column(sa.String(120))
    bank_swift_code: Mapped[str | None] = mapped_column(sa.String(20))

    user = relationship("User", back_populates="partner", foreign_keys=[user_id])
    approver = relationship("User", foreign_keys=[approved_by])

    @property
    def masked_account_number(self) -> str:
        number = self.bank_account_number or ""
        return ("•" * max(len(number) - 4, 0) + number[-4:]) if number else ""

    @property
    def has_bank_details(self) -> bool:
        return bool(self.bank_name and self.bank_account_number and self.bank_account_name)

    def __repr__(self) -> str:
        return f"<ChannelPartner {self.company_name} {self.status}>"
