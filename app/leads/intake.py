"""Lead intake (SPEC 9.2): every channel creates its leads here, validated, scored and checked for duplicates.

Trusted channels (the partner portal, admin entry, imports, API keys with the trusted scope) are confirmed on
entry; public and referral leads wait in `pending_confirmation` for their double opt-in (app/leads/confirmation).
Confirmed leads wait in `pending_review` for an admin (app/leads/review), except an admin's own entry,
which is approved at once.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from app.audit import trail as audit
from app.comms.notifications import notify_admins, path_for
from app.errors import Refused
from app.extensions import db
from app.leads import duplicates, fields, scoring
from app.models import Category, ChannelPartner, Lead, LeadActivity
from app.models.base import utcnow

UNCONFIRMED_CHANNELS = ("public_form", "referral")


class IntakeRefused(Refused):
    """A submission the partner may not make now (capability, quota); the message says why."""


def _month_start() -> datetime:
    now = utcnow()
    return datetime(now.year, now.month, 1)


def quota_left(partner: ChannelPartner) -> int | None:
    """How many more leads the partner may originate this UTC month (None: no quota)."""
    if partner.monthly_lead_quota is None:
        return None
    used = db.session.scalar(
        sa.select(sa.func.count()).where(Lead.originated_by == partner.id, Lead.created_at >= _month_start())
    )
    return max(0, partner.monthly_lead_quota - used)


def check_may_originate(partner: ChannelPartner, count: int = 1) -> None:
    """SPEC 9.1: a partner originates only with that capability, and not past its monthly quota (this UTC month).
    The partner's row is locked, so two submissions at once cannot both take the last place of the quota."""
    if not partner.cap_originates:
        raise IntakeRefused("Your company is not set up to submit leads: ask an admin to turn on “originates”.")
    if partner.monthly_lead_quota is None:
        return
    db.session.execute(sa.select(ChannelPartner.id).where(ChannelPartner.id == partner.id).with_for_update())
    if (quota_left(partner) or 0) < count:
        raise IntakeRefused(
            f"Your company has used its quota of {partner.monthly_lead_quota} leads this month; "
            "it renews on the 1st, or an admin can raise it."
        )


def submit(
    data: Mapping,
    category: Category | None,
    *,
    channel: str,
    actor=None,
    partner: ChannelPartner | None = None,
    confirmed: bool | None = None,
    referral_visit=None,
    utm: dict | None = None,
    referrer_url: str | None = None,
    import_id=None,
    intake_key: str | None = None,
    approve: bool | None = None,
) -> Lead:
    """Create a lead from a submission on `channel`, originated by `partner` if any.

    Raises LeadDataInvalid (422, a message per field) or IntakeRefused; writes nothing when it raises.
    """
    clean = fields.clean(data, category)
    if partner is not None:
        check_may_originate(partner)
    confirmed = channel not in UNCONFIRMED_CHANNELS if confirmed is None else confirmed
    score, breakdown = scoring.score(clean.filled, category, scoring.weights())
    now = utcnow()
    lead = Lead(
        id=uuid.uuid4(),  # known now, so the lead, its activity and its audit row go in one flush
        title=(fields.plain_text(data, "title") or fields.default_title(clean.columns))[:200],
        description=clean.columns.pop("description", ""),
        category_id=category.id if category else None,
        originated_by=partner.id if partner else None,
        created_by=actor.id if actor else None,
        allocation_status="pending",
        kanban_stage="new",
        channel=channel,
        intake_status="pending_confirmation",
        custom_fields=clean.custom,
        quality_score=score,
        score_breakdown=breakdown,
        referral_visit_id=referral_visit.id if referral_visit else None,
        utm=utm or {},
        referrer_url=(referrer_url or "")[:500] or None,
        import_id=import_id,
        intake_key=intake_key,
        **clean.columns,
    )
    db.session.add(lead)
    detail = {"source": channel}
    db.session.add(LeadActivity(lead_id=lead.id, actor_id=actor.id if actor else None, action="created", detail=detail))
    audit.record(actor, "lead.submitted", lead, after={"title": lead.title, "channel": channel, "score": score})
    if confirmed:
        mark_confirmed(lead, actor, approve=channel == "admin" if approve is None else approve, at=now)
    db.session.flush()
    return lead


def submit_from_api(data: Mapping, category: Category | None, actor, *, via_key: bool, trusted: bool) -> Lead:
    """A lead sent to POST /api/v1/leads (SPEC 9.2, 9.5). Staff enter it approved, as on their form; a trusted
    supplier's key (scope leads:trusted) too; a partner member's own token is trusted like the portal (confirmed,
    to review); a partner's plain key brings third-party contacts, who confirm by email first (double opt-in)."""
    partner = None if actor.is_staff else actor.partner
    confirmed = actor.is_staff or trusted or not via_key
    if not confirmed and not fields.plain_text(data, "contact_email"):
        raise fields.LeadDataInvalid({"contact_email": "The prospect confirms by email: send contact_email."})
    lead = submit(
        data, category, channel="api", actor=actor, partner=partner, confirmed=confirmed,
        approve=actor.is_staff or trusted,
    )  # fmt: skip
    if not confirmed:
        from app.leads import confirmation

        confirmation.issue(lead)
    return lead


def mark_confirmed(lead: Lead, actor=None, *, approve: bool = False, at: datetime | None = None) -> Lead:
    """The lead's contact is confirmed (or the channel is trusted): it is checked for duplicates and goes to
    review, or straight to approved when an admin entered it."""
    lead.confirmed_at = at or utcnow()
    match = duplicates.find_duplicate(lead.email_normalized, lead.phone_e164, exclude_id=lead.id)
    lead.duplicate_of_id = match.id if match else None
    if approve:
        lead.intake_status, lead.reviewed_by, lead.reviewed_at = "approved", actor.id, lead.confirmed_at
    else:
        lead.intake_status = "pending_review"
        source = lead.originator.company_name if lead.originator else lead.channel_label
        notify_admins(
            "lead_submitted",
            source=source,
            title=lead.title,
            score=lead.quality_score,
            reference=("lead", lead.id),
            link=path_for("admin.lead_detail", lead_id=lead.id),
        )
    db.session.flush()
    return lead
