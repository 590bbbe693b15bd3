"""Channel partners: the reseller companies, their capabilities, tier and KYC banking (SPEC §9.1)."""

import secrets
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedText
from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk

CP_STATUSES = ("pending", "approved", "rejected", "suspended", "inactive")
TIERS = ("bronze", "silver", "gold", "platinum")
KYC_STATUSES = ("unverified", "verified", "rejected")
PAYOUT_METHODS = ("bank_transfer", "wire", "check")
# What a partner does (seed 001 types): (column, label). Stored as one boolean column each, so that the
# allocation picker filters on an indexed column on SQLite and PostgreSQL alike.
CAPABILITIES = (
    ("cap_originates", "Originates leads"),
    ("cap_works", "Works assigned leads"),
    ("cap_buys", "Buys leads"),
    ("cap_supplies", "Supplies leads by API"),
)
# Every field the partner's bank-details form changes; any change sends KYC back to unverified.
BANK_FIELDS = (
    "bank_name",
    "bank_account_name",
    "bank_account_number",
    "bank_iban",
    "bank_routing_number",
    "bank_swift_code",
    "bank_branch",
    "bank_currency",
    "payout_method",
    "tax_id",
)
# Encrypted at rest and shown masked (last four characters) everywhere but the admin's settle screen.
SECRET_FIELDS = ("bank_account_number", "bank_iban", "tax_id")
# Partner codes: no 0/O, 1/I/L, so that a code read aloud or copied by hand comes out right.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_partner_code() -> str:
    """A short, readable, random partner code such as CP-7K3Q9A (31^6 ≈ 890 million codes)."""
    return "CP-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def mask(value: str | None) -> str:
    """All but the last four characters hidden: '12345678901' → '•••••••8901'."""
    value = (value or "").replace(" ", "")
    return ("•" * max(len(value) - 4, 0) + value[-4:]) if value else ""


class ChannelPartner(Timestamps, db.Model):
    __tablename__ = "channel_partners"

    id: Mapped[uuid.UUID] = pk()
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", unique=True)
    code: Mapped[str] = mapped_column(sa.String(12), nullable=False, unique=True, default=new_partner_code)
    # The owner shares it with colleagues, who use it at sign-up to join as viewers (app/partners/members.py).
    invite_code: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    company_name: Mapped[str] = mapped_column(sa.String(200), nullable=False, index=True)
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    website: Mapped[str | None] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    logo_file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True, ondelete="SET NULL")
    status: Mapped[str] = mapped_column(enum(*CP_STATUSES, name="cp_status"), nullable=False, index=True)
    approved_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    tier: Mapped[str] = mapped_column(
        enum(*TIERS, name="cp_tier"), nullable=False, default="bronze", server_default="bronze"
    )
    monthly_lead_quota: Mapped[int | None] = mapped_column(sa.Integer)
    cap_originates: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    cap_works: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    cap_buys: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    cap_supplies: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False, server_default=sa.false())

    bank_name: Mapped[str | None] = mapped_column(sa.String(120))
    bank_account_number: Mapped[str | None] = mapped_column(EncryptedText)
    bank_account_name: Mapped[str | None] = mapped_column(sa.String(120))
    bank_branch: Mapped[str | None] = mapped_column(sa.String(120))
    bank_swift_code: Mapped[str | None] = mapped_column(sa.String(20))
    bank_iban: Mapped[str | None] = mapped_column(EncryptedText)
    bank_routing_number: Mapped[str | None] = mapped_column(sa.String(40))
    bank_currency: Mapped[str | None] = mapped_column(sa.String(3))
    payout_method: Mapped[str] = mapped_column(
        enum(*PAYOUT_METHODS, name="payout_method"),
        nullable=False,
        default="bank_transfer",
        server_default="bank_transfer",
    )
    tax_id: Mapped[str | None] = mapped_column(EncryptedText)
    kyc_status: Mapped[str] = mapped_column(
        enum(*KYC_STATUSES, name="kyc_status"),
        nullable=False,
        default="unverified",
        server_default="unverified",
        index=True,
    )
    kyc_reviewed_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")
    kyc_reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    kyc_note: Mapped[str | None] = mapped_column(sa.Text)

    # The account that signed the partner up (its first owner); members (app/models/members.py) are everyone.
    user = relationship("User", foreign_keys=[user_id])
    approver = relationship("User", foreign_keys=[approved_by])
    kyc_reviewer = relationship("User", foreign_keys=[kyc_reviewed_by])

    @property
    def masked_account_number(self) -> str:
        return mask(self.bank_account_number)

    @property
    def masked_iban(self) -> str:
        return mask(self.bank_iban)

    @property
    def masked_tax_id(self) -> str:
        return mask(self.tax_id)

    @property
    def formatted_iban(self) -> str:
        """The IBAN in groups of four, as printed on a bank statement (settle screen only)."""
        iban = (self.bank_iban or "").replace(" ", "")
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))

    @property
    def has_bank_details(self) -> bool:
        return bool(self.bank_name and (self.bank_account_number or self.bank_iban) and self.bank_account_name)

    @property
    def capabilities(self) -> list[str]:
        """The labels of what this partner does, for the profile pages."""
        return [label for column, label in CAPABILITIES if getattr(self, column)]

    @property
    def takes_new_leads(self) -> bool:
        """Whether an admin may allocate a lead to this partner now."""
        return self.status == "approved" and self.cap_works

    def __repr__(self) -> str:
        return f"<ChannelPartner {self.company_name} {self.status}>"
