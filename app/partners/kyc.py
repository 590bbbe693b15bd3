"""KYC banking (SPEC §9.1): IBAN and BIC checks, masked snapshots for the audit log, and the admin's review.

A partner's bank details are `unverified` until an admin verifies or rejects them (with who and when, and a
note for a rejection); any later change by the partner sends them back to `unverified` (app.partners.profiles).
"""

from flask import url_for
from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidBBANChecksum,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)

from app.audit import trail as audit
from app.comms import notifications
from app.errors import Refused
from app.extensions import db
from app.models import ChannelPartner, User
from app.models.base import utcnow
from app.models.partners import BANK_FIELDS, SECRET_FIELDS, mask
from app.partners.members import active_users

MAX_NOTE = 2000
# ISO 4217 codes offered for payouts (the currencies partners have asked for; extend as needed).
CURRENCIES = (
    ("USD", "US dollar"),
    ("EUR", "Euro"),
    ("GBP", "Pound sterling"),
    ("CHF", "Swiss franc"),
    ("NOK", "Norwegian krone"),
    ("SEK", "Swedish krona"),
    ("DKK", "Danish krone"),
    ("PLN", "Polish złoty"),
    ("CZK", "Czech koruna"),
    ("CAD", "Canadian dollar"),
    ("AUD", "Australian dollar"),
    ("NZD", "New Zealand dollar"),
    ("JPY", "Japanese yen"),
    ("SGD", "Singapore dollar"),
    ("HKD", "Hong Kong dollar"),
    ("INR", "Indian rupee"),
    ("AED", "UAE dirham"),
    ("ZAR", "South African rand"),
    ("BRL", "Brazilian real"),
    ("MXN", "Mexican peso"),
)
PAYOUT_LABELS = {"bank_transfer": "Bank transfer", "wire": "International wire", "check": "Check"}


class KycError(Refused):
    """A refused KYC operation; `field` names the form field the message belongs beside."""

    def __init__(self, message: str, field: str | None = None, status: int = 409):
        super().__init__(message, field)
        self.status = status


def normalise_iban(value: str) -> str:
    """The IBAN in its compact form (DE89370400440532013000); ValueError with a readable reason if invalid."""
    try:
        return IBAN(value).compact
    except SchwiftyException as exc:
        raise ValueError(f"This is not a valid IBAN: {_reason(exc)}.") from exc


def normalise_bic(value: str) -> str:
    """The SWIFT/BIC code in capitals; ValueError with a readable reason if invalid."""
    try:
        return str(BIC(value))
    except SchwiftyException as exc:
        raise ValueError(
            f"A SWIFT/BIC code has 8 or 11 letters and digits, e.g. DEUTDEFF or DEUTDEFF500: {_reason(exc)}."
        ) from exc


# schwifty's messages repeat the input; these say the same without echoing it.
_REASONS = {
    InvalidChecksumDigits: "the check digits do not match the rest (a typo?)",
    InvalidBBANChecksum: "the national check digits do not match (a typo?)",
    InvalidCountryCode: "it does not start with a known country code",
    InvalidLength: "it has the wrong number of characters",
}


def _reason(exc: Exception) -> str:
    return next((text for kind, text in _REASONS.items() if isinstance(exc, kind)), "it has the wrong layout")


def bank_snapshot(partner: ChannelPartner) -> dict:
    """The bank fields and KYC status as the audit log keeps them: secret fields masked, never in full."""
    values = {field: getattr(partner, field) for field in BANK_FIELDS}
    values.update({field: mask(values[field]) or None for field in SECRET_FIELDS})
    values["kyc_status"] = partner.kyc_status
    return values


def reset_after_change(partner: ChannelPartner, changed: list[str]) -> None:
    """The partner changed bank fields: KYC is unverified again and every admin is told (in-app and email)."""
    partner.kyc_status, partner.kyc_reviewed_by, partner.kyc_reviewed_at, partner.kyc_note = (
        "unverified",
        None,
        None,
        None,
    )
    notifications.notify_admins(
        "bank_details_changed",
        company=partner.company_name,
        fields=", ".join(field.replace("_", " ") for field in changed),
        reference=("cp", partner.id),
        link=url_for("admin.partner_detail", partner_id=partner.id, _anchor="kyc"),
    )


def review(partner: ChannelPartner, actor: User, verdict: str, note: str | None = None) -> ChannelPartner:
    """An admin verifies or rejects the partner's bank details (a note is required to reject).

    Only `unverified` details are reviewed: a verdict stands until the partner changes a bank field.
    """
    if actor is None or not actor.is_admin:
        raise KycError("Only an admin reviews bank details.", status=403)
    if verdict not in ("verified", "rejected"):
        raise KycError("Choose verify or reject.", "verdict", 422)
    note = (note or "").strip()
    if verdict == "rejected" and not note:
        raise KycError("Say what is wrong, so that the partner can correct it.", "note", 422)
    if len(note) > MAX_NOTE:
        raise KycError(f"Keep the note under {MAX_NOTE} characters.", "note", 422)
    if partner.kyc_status != "unverified":
        raise KycError(f"These bank details were already {partner.kyc_status}; they are reviewed again once changed.")
    if not partner.has_bank_details:
        raise KycError("There are no bank details to review yet.")
    before = {"kyc_status": partner.kyc_status}
    partner.kyc_status, partner.kyc_reviewed_by, partner.kyc_reviewed_at = verdict, actor.id, utcnow()
    partner.kyc_note = note or None
    db.session.flush()
    after = {"kyc_status": verdict, "note": note or None, "bank": bank_snapshot(partner)}
    audit.record(actor, f"partner.kyc_{verdict}", partner, before, after)
    notifications.notify(
        active_users(partner, roles=("owner",)),
        "kyc_reviewed",
        reference=("cp", partner.id),
        link=url_for("cp.profile", _anchor="bank"),
        outcome=verdict,
        note=f" Note: {note}" if note else "",
    )
    return partner
