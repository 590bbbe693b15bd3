"""Double opt-in of public and referral leads (SPEC 9.2): a signed, expiring link whose SHA-256 alone is stored.

`issue(lead)` queues the email; the email job calls `email_link(lead_id)`, which creates the LeadConfirmation
(the token is an itsdangerous signature of a random nonce, so a garbled or forged link is told apart without a
query; only sha256(token) is kept, expiring after 48 hours) as the message is built, so no token is ever stored,
not even in the outbox row. `redeem(token)` confirms the lead once: a conditional UPDATE claims the link
(used_at IS NULL and not expired), so two clicks at once confirm it once, and then `intake.mark_confirmed`
sends the lead to review.

Confirming on GET is deliberate: the person clicks a link in an email and expects it to work. Mail scanners
that prefetch links may confirm a lead before its person does; that is acceptable here, since the link only
reached the address that was typed into the form, and confirming is idempotent (a second visit, by a scanner or
the person, answers "already confirmed" and changes nothing).
"""

import hashlib
import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.audit import trail as audit
from app.comms.notifications import path_for, queue_email
from app.extensions import db
from app.leads import intake
from app.models import Lead, LeadConfirmation
from app.models.base import utcnow

SALT = "lead-confirm"
LIFETIME = timedelta(hours=48)
OUTCOMES = ("confirmed", "already", "expired", "invalid")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(lead: Lead) -> str:
    """A new confirmation link's token for the lead, stored only as its hash. flush() only."""
    token = _serializer().dumps(secrets.token_urlsafe(24))
    now = utcnow()
    db.session.add(
        LeadConfirmation(
            lead_id=lead.id,
            token_hash=token_hash(token),
            email=lead.contact_email,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    db.session.flush()
    return token


def issue(lead: Lead) -> None:
    """Queue the confirmation email; its link is made when it is sent (`email_link`)."""
    context = {
        "lead_id": str(lead.id),
        "name": lead.first_name or "there",
        "category": lead.category.name if lead.category else "",
        "hours": int(LIFETIME.total_seconds() // 3600),
    }
    queue_email(lead.contact_email, "confirm_lead", "Please confirm your request", context)


def email_link(lead_id: str) -> str | None:
    """For the email job: a fresh link (a path) for the lead, or None if it no longer waits for confirmation."""
    lead = db.session.get(Lead, uuid.UUID(lead_id))
    if lead is None or lead.intake_status != "pending_confirmation":
        return None
    return path_for("public.confirm", token=new_token(lead))


def _find(token: str) -> LeadConfirmation | None:
    if not token or len(token) > 200:
        return None
    try:
        _serializer().loads(token)  # the signature only: expiry is the row's, so "expired" can be told apart
    except BadSignature:
        return None
    return db.session.scalar(sa.select(LeadConfirmation).where(LeadConfirmation.token_hash == token_hash(token)))


def redeem(token: str) -> tuple[str, Lead | None]:
    """Confirm the lead of this link: ("confirmed" | "already" | "expired" | "invalid", lead or None).

    Only "confirmed" changes anything; the caller commits."""
    row = _find(token)
    if row is None:
        return "invalid", None
    now = utcnow()
    if row.used_at is not None:
        return "already", row.lead
    if row.expires_at <= now:
        return "expired", row.lead
    claimed = db.session.execute(
        sa.update(LeadConfirmation)
        .where(LeadConfirmation.id == row.id, LeadConfirmation.used_at.is_(None), LeadConfirmation.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.refresh(row)
        return ("already" if row.used_at is not None else "expired"), row.lead
    # The lead's row is locked: another link of the same lead redeemed at the same moment waits, then sees it done.
    lead = db.session.scalar(
        sa.select(Lead).where(Lead.id == row.lead_id).with_for_update().execution_options(populate_existing=True)
    )
    db.session.refresh(row)
    if lead is None or lead.intake_status != "pending_confirmation":
        return "already", lead
    intake.mark_confirmed(lead, None, at=now)
    audit.record(None, "lead.confirmed", lead, after={"intake_status": lead.intake_status, "channel": lead.channel})
    db.session.flush()
    return "confirmed", lead
