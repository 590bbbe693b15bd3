"""Reviewing intake (SPEC 9.2): admins approve or reject `pending_review` leads; distributed leads can only be
marked bad. Each transition is a conditional UPDATE on the status it starts from, so two reviewers acting at
once cannot both win, and a stale page is told what happened instead."""

import sqlalchemy as sa

from app.audit import trail as audit
from app.comms import webhooks
from app.comms.notifications import notify, path_for
from app.extensions import db
from app.leads.pipeline import PipelineError, _activity, _require_admin
from app.models import Lead
from app.models.base import utcnow
from app.models.leads import INTAKE_LABELS
from app.money import credits
from app.partners.members import active_users

MAX_REASON = 1000
REJECT_REASONS = (
    ("duplicate", "Duplicate of an earlier lead"),
    ("incomplete", "Contact details incomplete or wrong"),
    ("not_interested", "Prospect not interested / spam"),
    ("out_of_scope", "Outside what we sell or where we sell"),
    ("other", "Other"),
)


class AlreadyReviewed(PipelineError):
    """Someone else moved the lead first (or the page was stale): the message says where it is now."""

    status = 409


def _reason(code: str, note: str) -> str:
    labels = dict(REJECT_REASONS)
    if code not in labels:
        raise PipelineError("Choose a reason.", "reason")
    note = (note or "").strip()
    if code == "other" and not note:
        raise PipelineError("Say why the lead is rejected.", "note")
    if len(note) > MAX_REASON:
        raise PipelineError(f"Keep the note under {MAX_REASON} characters.", "note")
    return f"{labels[code]}: {note}" if note else labels[code]


def _move(lead: Lead, from_statuses: tuple[str, ...], actor, **values) -> None:
    """Set the lead's intake status from one of `from_statuses`, or refuse with where it is now."""
    now = utcnow()
    done = db.session.execute(
        sa.update(Lead)
        .where(Lead.id == lead.id, Lead.intake_status.in_(from_statuses))
        .values(reviewed_by=actor.id, reviewed_at=now, version=Lead.version + 1, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(lead)
    if not done:
        raise AlreadyReviewed(f"This lead is already {INTAKE_LABELS[lead.intake_status].lower()}.", "lead")


def _tell_originator(lead: Lead, event_key: str, **fields) -> None:
    if lead.originator is not None:
        link = path_for("cp.leads_originated")
        notify(active_users(lead.originator), event_key, reference=("lead", lead.id), link=link, **fields)


def approve(lead: Lead, actor) -> Lead:
    """Approve a lead awaiting review: it may now be allocated, and its originator earns the approval credit."""
    _require_admin(actor)
    _move(lead, ("pending_review",), actor, intake_status="approved", rejection_reason=None)
    _activity(lead, actor, "approved", score=lead.quality_score)
    audit.record(actor, "lead.approved", lead, after={"intake_status": "approved"})
    credits.on_approved(lead, actor)
    _tell_originator(lead, "lead_approved", title=lead.title)
    webhooks.emit(lead.originator, "lead.approved", webhooks.lead_data(lead))
    db.session.flush()
    return lead


def reject(lead: Lead, actor, code: str, note: str = "") -> Lead:
    """Reject a lead awaiting review (or approved but not yet distributed), with a reason its originator reads."""
    _require_admin(actor)
    reason = _reason(code, note)
    if code == "duplicate" and lead.duplicate_of_id is None and not note.strip():
        raise PipelineError("No duplicate was detected: say which lead this one repeats.", "note")
    _move(lead, ("pending_review", "approved"), actor, intake_status="rejected", rejection_reason=reason)
    _activity(lead, actor, "rejected", reason=reason)
    audit.record(actor, "lead.rejected", lead, after={"intake_status": "rejected", "reason": reason})
    credits.void_pending(lead, actor, "The lead was rejected.")
    _tell_originator(lead, "lead_rejected", title=lead.title, reason=reason)
    webhooks.emit(lead.originator, "lead.rejected", webhooks.lead_data(lead))
    db.session.flush()
    return lead


def mark_bad(lead: Lead, actor, note: str) -> Lead:
    """A distributed lead turned out bad (wrong number, fake): it is never rejected, only marked bad."""
    _require_admin(actor)
    note = (note or "").strip()
    if not note:
        raise PipelineError("Say what is wrong with the lead.", "note")
    if len(note) > MAX_REASON:
        raise PipelineError(f"Keep the note under {MAX_REASON} characters.", "note")
    _move(lead, ("distributed",), actor, intake_status="bad_lead", rejection_reason=note)
    _activity(lead, actor, "marked_bad", reason=note)
    audit.record(actor, "lead.marked_bad", lead, after={"intake_status": "bad_lead", "reason": note})
    credits.void_pending(lead, actor, "The lead was marked bad.")
    db.session.flush()
    return lead
