"""The lead pipeline: creating, allocating, moving and editing leads (SPEC sections 2-3); deleting: deletion.py.

Every operation takes the acting user, checks it may act, writes a LeadActivity row (who changed
what, when) and, for allocation, overrides and money, an audit event. Changes of stage, money,
override or allocation carry the version the user's page was read at; a stale version is refused
(`StaleLead`) rather than silently overwriting someone else's change. Fees are never computed
here: `commissions.recompute` stores them through app/money/fees.py.
"""

from decimal import Decimal

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import trail as audit
from app.comms import notifications, webhooks
from app.errors import Refused
from app.extensions import db
from app.files import storage
from app.files.checks import TYPES
from app.models import (
    Lead,
    LeadActivity,
    LeadEvidence,
    LeadNote,
)
from app.models.base import utcnow
from app.models.leads import FEE_TYPES, STAGE_LABELS, STAGES
from app.money import commissions, credits
from app.partners.members import active_users
from app.web import money

MAX_MONEY = Decimal("999999999999.99")
MAX_NOTE = 5000
MAX_REASON = 2000
MONEY_FIELDS = ("lead_value", "commission_amount", "platform_fee_amount", "net_commission")
OVERRIDE_FIELDS = ("fee_override_type", "fee_override_value", "platform_fee_amount", "net_commission")


class PipelineError(Refused):
    """A refused lead operation (app/errors.Refused): the message is safe to show, `field` names its form field."""

    status = 422


class StaleLead(PipelineError):
    status = 409

    def __init__(self):
        super().__init__("This lead was changed by someone else; reload to see the latest version.")


class Frozen(PipelineError):
    status = 409


class NotAllowed(PipelineError):
    status = 403


# --- checks -----------------------------------------------------------------------------------

LEAD_WORKERS = ("owner", "manager")  # a partner's members who work its leads (viewers read only)


def may_edit(user, lead) -> bool:
    """Admins edit every lead; a partner's owners and managers only the leads assigned to it; viewers and the
    super admin only read."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_admin:
        return True
    if not user.is_cp or user.member_role not in LEAD_WORKERS:
        return False
    return user.partner is not None and lead.allocated_to == user.partner.id


def _require_edit(lead, actor) -> None:
    if not may_edit(actor, lead):
        raise NotAllowed("You cannot change this lead.")


def _require_admin(actor) -> None:
    if not getattr(actor, "is_admin", False):
        raise NotAllowed("Only an admin can do this.")


def parse_money(raw, field: str, *, maximum: Decimal = MAX_MONEY) -> Decimal | None:
    """app.web.money.parse_money, its complaint raised as a PipelineError on `field`."""
    try:
        return money.parse_money(raw, maximum=maximum)
    except money.MoneyError as exc:
        raise PipelineError(str(exc), field) from None


def parse_override(override_type, override_value) -> tuple[str | None, Decimal | None]:
    """A fee override (type, value), or (None, None) to use the global rule."""
    override_type = (override_type or "").strip() or None
    if override_type is None:
        return None, None
    if override_type not in FEE_TYPES:
        raise PipelineError("Choose percentage or fixed.", "override_type")
    maximum = Decimal("100") if override_type == "percentage" else MAX_MONEY
    value = parse_money(override_value, "override_value", maximum=maximum)
    if value is None:
        raise PipelineError("Enter the override value.", "override_value")
    return override_type, value


# --- helpers ----------------------------------------------------------------------------------


def _claim_version(lead, expected_version, **values) -> None:
    """Bump the lead's version, refusing if it moved on since `expected_version` was read.

    The guarded UPDATE also makes two simultaneous saves of the same version safe: the second finds no row and is
    refused. `values` are written by the same UPDATE (one statement), as agreed in app/reporting/rollups/hook.py.
    """
    try:
        expected = int(expected_version) if expected_version is not None else lead.version
    except (TypeError, ValueError):
        raise StaleLead() from None
    if expected != lead.version:
        raise StaleLead()
    values = {**values, "version": expected + 1, "updated_at": utcnow()}
    result = db.session.execute(
        sa.update(Lead).where(Lead.id == lead.id, Lead.version == expected).values(**values),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        raise StaleLead()
    for name, value in values.items():
        set_committed_value(lead, name, value)


def _activity(lead, actor, action: str, **detail) -> LeadActivity:
    row = LeadActivity(lead_id=lead.id, actor_id=getattr(actor, "id", None), action=action, detail=audit._plain(detail))
    db.session.add(row)
    return row


def _assert_not_frozen(lead) -> None:
    """Lock the lead's commission transaction, re-read, and refuse if it is paid (SPEC 2.9).

    Every operation that changes a lead's money, stage or partner calls this FIRST, before it writes
    anything: the lock order is always transaction row, then lead row (and the rollup rows its flush
    touches), the same order a settlement takes. A settlement and an edit of the same lead therefore queue
    instead of deadlocking, and whichever comes second sees the other's committed result: the edit finds
    the commission paid (Frozen, 409) or the settlement finds the net changed (refused, 409).
    """
    tx = commissions.transaction_for(lead, lock=True)
    if tx is not None and tx.status == "paid":
        raise Frozen(str(commissions.CommissionFrozen()))


def _partner_name(lead, actor) -> str:
    partner = getattr(actor, "partner", None) if getattr(actor, "is_cp", False) else None
    if partner is not None and partner.id == lead.allocated_to:  # the CP itself: no need to load it again
        return partner.company_name
    if lead.assignee is not None:
        return lead.assignee.company_name
    return actor.display_name


# --- operations -------------------------------------------------------------------------------


def allocate(lead, partner, actor, override=None, expected_version=None) -> Lead:
    """Give the lead to an approved partner (or another one): stage New, the partner is notified.

    `override` is an optional (type, value) fee override set at the same time.
    """
    _require_admin(actor)
    if partner is not None and partner.status == "inactive":
        raise PipelineError(f"{partner.company_name} is inactive and takes no new leads.", "partner")
    if partner is None or not partner.takes_new_leads:
        raise PipelineError("Choose an approved channel partner that works assigned leads.", "partner")
    if not lead.may_be_allocated:
        raise PipelineError(
            f"Only approved leads can be allocated; this one is {lead.intake_label.lower()}.", "partner"
        )
    _assert_not_frozen(lead)
    _claim_version(lead, expected_version)
    before = audit.snapshot(lead, "allocated_to", "allocation_status", "kanban_stage", *OVERRIDE_FIELDS)
    previous = lead.assignee.company_name if lead.assignee else None
    old_stage = lead.kanban_stage
    lead.allocated_to, lead.allocation_status, lead.intake_status = partner.id, "allocated", "distributed"
    lead.kanban_stage, lead.stage_changed_at, lead.lost_reason = "new", utcnow(), None
    if override is not None:
        lead.fee_override_type, lead.fee_override_value = override
    db.session.flush()
    db.session.expire(lead, ["assignee"])
    voided = commissions.on_stage_changed(lead, old_stage, actor)
    commissions.recompute(lead, actor, resnapshot=override is not None)
    _activity(lead, actor, "allocated", partner=partner.company_name, previous=previous)
    audit.record(actor, "lead.allocated", lead, before=before, after=audit.snapshot(lead, *before.keys()))
    notifications.notify(
        active_users(partner),
        "lead_assigned",
        reference=("lead", lead.id),
        link=url_for("cp.lead_detail", lead_id=lead.id),
        title=lead.title,
    )
    _tell_admins_if_voided(lead, old_stage, voided)
    webhooks.emit(partner, "lead.assigned", webhooks.assigned_lead_data(lead))
    db.session.flush()
    return lead


def change_stage(lead, stage: str, actor, expected_version, lost_reason: str | None = None) -> Lead:
    """Move the lead to `stage`. Lost needs a reason; Won opens the commission; admins hear of both."""
    _require_edit(lead, actor)
    if stage not in STAGES:
        raise PipelineError("Choose a pipeline stage.", "stage")
    if lead.allocated_to is None:
        raise PipelineError("Allocate this lead to a channel partner before moving it.", "stage")
    reason = (lost_reason or "").strip()
    if stage == "lost" and not reason:
        raise PipelineError("Say why the lead was lost.", "lost_reason")
    if len(reason) > MAX_REASON:
        raise PipelineError(f"Keep the reason under {MAX_REASON} characters.", "lost_reason")
    old_stage = lead.kanban_stage
    if stage == old_stage and stage != "lost":
        return lead
    crosses_won = "won" in (stage, old_stage)
    if crosses_won:  # only a won lead can have a paid (frozen) commission: lock its row for the change
        _assert_not_frozen(lead)
    _claim_version(
        lead,
        expected_version,
        kanban_stage=stage,
        stage_changed_at=utcnow(),
        lost_reason=reason if stage == "lost" else None,
    )
    tx = commissions.on_stage_changed(lead, old_stage, actor) if crosses_won else None
    detail = {"from": STAGE_LABELS[old_stage], "to": STAGE_LABELS[stage]}
    if stage == "lost":
        detail["reason"] = reason
    _activity(lead, actor, "stage_changed", **detail)
    audit.record(actor, "lead.stage_changed", lead, before={"kanban_stage": old_stage}, after={"kanban_stage": stage})
    if stage == "won" and old_stage != "won":
        notifications.notify_admins(
            "lead_won", reference=("lead", lead.id), link=_admin_link(lead), name=_partner_name(lead, actor),
            title=lead.title,
        )  # fmt: skip
    elif stage == "lost":
        notifications.notify_admins(
            "lead_lost", reference=("lead", lead.id), link=_admin_link(lead), name=_partner_name(lead, actor),
            title=lead.title, reason=reason,
        )  # fmt: skip
    _tell_admins_if_voided(lead, old_stage, tx)
    if stage == "won":
        credits.on_won(lead, actor)
    elif old_stage == "won":
        credits.void_pending(lead, actor, "The lead left Won.", kind="won")
    webhooks.emit(lead.assignee, "lead.stage_changed", webhooks.assigned_lead_data(lead, previous_stage=old_stage))
    db.session.flush()  # the activity and audit rows go in together
    return lead


def _admin_link(lead) -> str:
    return url_for("admin.lead_detail", lead_id=lead.id)


def _tell_admins_if_voided(lead, old_stage, tx) -> None:
    """SPEC 2.9: an unpaid won lead that leaves Won voids its transaction and the admins are told."""
    if old_stage == "won" and tx is not None and tx.status == "void":
        notifications.notify_admins(
            "commission_voided",
            reference=("lead", lead.id),
            link=url_for("admin.lead_detail", lead_id=lead.id),
            title=lead.title,
            amount=money.format_money(tx.gross_commission),
        )


def set_amounts(lead, value, commission, actor, expected_version) -> Lead:
    """Set lead value and commission amount; fee and net are recomputed and stored (and follow an unpaid tx)."""
    _require_edit(lead, actor)
    value = parse_money(value, "lead_value")
    commission = parse_money(commission, "commission_amount")
    if value == lead.lead_value and commission == lead.commission_amount:
        return lead
    _assert_not_frozen(lead)
    _claim_version(lead, expected_version)
    before = audit.snapshot(lead, *MONEY_FIELDS)
    lead.lead_value, lead.commission_amount = value, commission
    try:
        commissions.recompute(lead, actor)
    except commissions.CommissionFrozen as exc:
        raise Frozen(str(exc)) from None
    after = audit.snapshot(lead, *MONEY_FIELDS)
    if lead.kanban_stage == "won":
        credits.follow_value(lead, actor)
    _activity(lead, actor, "amounts_changed", before=before, after=after)
    audit.record(actor, "lead.amounts_changed", lead, before=before, after=after)
    db.session.flush()
    return lead


def set_fee_override(lead, override_type, override_value, actor, expected_version=None) -> Lead:
    """Admin only: set (or clear, with type None) the lead's fee override; an unpaid won lead takes it at once."""
    _require_admin(actor)
    override_type, override_value = parse_override(override_type, override_value)
    if override_type == lead.fee_override_type and override_value == lead.fee_override_value:
        return lead
    _assert_not_frozen(lead)
    _claim_version(lead, expected_version)
    before = audit.snapshot(lead, *OVERRIDE_FIELDS)
    lead.fee_override_type, lead.fee_override_value = override_type, override_value
    commissions.recompute(lead, actor, resnapshot=True)
    after = audit.snapshot(lead, *OVERRIDE_FIELDS)
    _activity(lead, actor, "override_set" if override_type else "override_cleared", before=before, after=after)
    audit.record(actor, "lead.fee_override", lead, before=before, after=after)
    db.session.flush()
    return lead


def add_note(lead, body: str, actor) -> LeadNote:
    _require_edit(lead, actor)
    body = (body or "").strip()
    if not body:
        raise PipelineError("Write the note first.", "body")
    if len(body) > MAX_NOTE:
        raise PipelineError(f"Keep notes under {MAX_NOTE} characters.", "body")
    note = LeadNote(lead_id=lead.id, author_id=actor.id, body=body)
    db.session.add(note)
    _activity(lead, actor, "note_added", excerpt=body[:120])
    db.session.flush()
    return note


def _evidence_type(content_type: str) -> str:
    for file_type in TYPES.values():
        if file_type.content_type == content_type:
            return file_type.group
    return "document"


def add_evidence(lead, file, actor, description: str | None = None) -> LeadEvidence:
    """Store an uploaded evidence file (image, PDF, document) through the storage service and attach it."""
    _require_edit(lead, actor)
    description = (description or "").strip()[:300] or None
    try:
        stored = storage.save_upload(file, "evidence", actor=actor, cp_id=lead.allocated_to)
    except storage.UploadRejected as exc:
        raise PipelineError(str(exc), "file") from None
    evidence = LeadEvidence(
        lead_id=lead.id,
        file_id=stored.id,
        file_type=_evidence_type(stored.content_type),
        uploaded_by=actor.id,
        description=description,
    )
    db.session.add(evidence)
    _activity(lead, actor, "evidence_added", name=stored.original_name)
    db.session.flush()
    return evidence
