"""Commission transactions (SPEC 2.1, 2.4, 2.9): one per won lead, following the lead while unpaid.

The pipeline calls exactly three things here:
- `assert_can_change(lead)` before moving a lead or editing its money (paid leads are frozen);
- `on_stage_changed(lead, old_stage, actor)` after a stage change (Won opens, leaving Won voids);
- `recompute(lead, actor, resnapshot=False)` after value, commission or fee override change.

The admin's actions on a transaction live here too: record the client payment (pending → due),
flag that the client paid the CP directly (pending → paid; the CP then owes the platform fee, see
services.payments) and re-apply the current fee rule. Settlement to the CP is services.settlements.
"""

from contextlib import nullcontext
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for

from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.models import CommissionTransaction
from app.models.base import utcnow
from app.money import fees

TX_FIELDS = ("status", "gross_commission", "platform_fee", "net_commission", "fee_rule_type", "fee_rule_value")
PAYMENT_FIELDS = ("status", "client_paid_at", "client_payment_reference", "client_paid_cp_directly", "net_commission")
DIRECT_PAYMENT_NOTE = "Client paid the channel partner directly"


class CommissionError(Refused):
    """A money action that the transaction's current state does not allow; the message is for the user."""


class PaymentDateInvalid(CommissionError):
    """The date given for a client payment cannot be right (it is in the future)."""

    status = 422


class CommissionFrozen(Exception):
    """The lead's commission has been paid: the lead stays Won and its money cannot change."""

    def __init__(self, message: str = "This lead's commission has been paid, so it is frozen."):
        super().__init__(message)


def transaction_for(lead, lock: bool = False) -> CommissionTransaction | None:
    """The lead's transaction. `lock=True` takes its row lock (SELECT ... FOR UPDATE) and re-reads it, so a
    status or amount committed by someone else while we waited (a settlement, say) is what the caller sees,
    not the copy loaded earlier in this request."""
    stmt = sa.select(CommissionTransaction).where(CommissionTransaction.lead_id == lead.id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(stmt)


def is_frozen(lead) -> bool:
    tx = transaction_for(lead)
    return tx is not None and tx.status == "paid"


def assert_can_change(lead) -> None:
    if is_frozen(lead):
        raise CommissionFrozen()


def snapshot_rule(tx: CommissionTransaction) -> fees.FeeRule:
    return fees.FeeRule(
        type=tx.fee_rule_type, value=tx.fee_rule_value, source=tx.fee_rule_source, config_id=tx.fee_config_id
    )


def effective_rule(lead, tx: CommissionTransaction | None = None) -> fees.FeeRule | None:
    """A won lead keeps the rule snapshotted on its transaction; any other lead uses override or global rule."""
    tx = tx if tx is not None else transaction_for(lead)
    if tx is not None and tx.status != "void":
        return snapshot_rule(tx)
    return fees.rule_for_lead(lead)


def _take_snapshot(tx: CommissionTransaction, rule: fees.FeeRule) -> None:
    tx.fee_rule_type, tx.fee_rule_value, tx.fee_rule_source = rule.type, rule.value, rule.source
    tx.fee_config_id = rule.config_id


def _apply_amounts(lead, tx: CommissionTransaction | None, rule: fees.FeeRule | None) -> None:
    result = fees.preview(lead.commission_amount, rule)
    lead.platform_fee_amount = result.fee if result else None
    lead.net_commission = result.net if result else None
    lead.fee_capped = bool(result and result.capped)
    if tx is not None:
        tx.gross_commission = result.commission if result else fees.to_cents(0)
        tx.platform_fee = result.fee if result else fees.to_cents(0)
        tx.net_commission = result.net if result else fees.to_cents(0)
        tx.fee_capped = bool(result and result.capped)
        tx.lead_value = lead.lead_value


def open_for_won_lead(lead, actor) -> CommissionTransaction:
    """Create the lead's transaction (or revive its void one): status pending, rule snapshotted."""
    tx = transaction_for(lead, lock=True)
    rule = fees.rule_for_lead(lead)
    if rule is None:
        rule = fees.FeeRule(type="percentage", value=fees.to_cents(0), source="global")
    if tx is not None and tx.status != "void":
        return tx
    before = audit.snapshot(tx, *TX_FIELDS) if tx else None
    if tx is None:
        tx = CommissionTransaction(lead_id=lead.id, cp_id=lead.allocated_to, status="pending")
        db.session.add(tx)
    tx.status, tx.cp_id, tx.won_at, tx.voided_at = "pending", lead.allocated_to, utcnow(), None
    _take_snapshot(tx, rule)
    _apply_amounts(lead, tx, rule)
    db.session.flush()
    audit.record(actor, "commission.opened", tx, before=before, after=audit.snapshot(tx, *TX_FIELDS))
    return tx


def void_for_lead(lead, actor) -> CommissionTransaction | None:
    tx = transaction_for(lead, lock=True)
    if tx is None or tx.status == "void":
        return tx
    if tx.status == "paid":
        raise CommissionFrozen()
    before = audit.snapshot(tx, *TX_FIELDS)
    tx.status, tx.voided_at, tx.settlement_requested_at = "void", utcnow(), None
    audit.record(actor, "commission.voided", tx, before=before, after=audit.snapshot(tx, *TX_FIELDS))
    _apply_amounts(lead, None, fees.rule_for_lead(lead))
    return tx


def on_stage_changed(lead, old_stage: str, actor) -> CommissionTransaction | None:
    if lead.kanban_stage == old_stage:
        return None
    if lead.kanban_stage == "won":
        return open_for_won_lead(lead, actor)
    if old_stage == "won":
        return void_for_lead(lead, actor)
    return None


def recompute(lead, actor, resnapshot: bool = False) -> fees.FeeResult | None:
    """Store fee and net on the lead (and its unpaid transaction) for the current inputs and rule.

    `resnapshot=True` is the admin's explicit choice to put the lead's current rule (override or
    global) on an unpaid transaction; otherwise a won lead keeps its snapshotted rule.
    """
    tx = transaction_for(lead, lock=True)
    if tx is not None and tx.status == "paid":
        raise CommissionFrozen()
    active_tx = tx if tx is not None and tx.status != "void" else None
    before = audit.snapshot(active_tx, *TX_FIELDS) if active_tx else None
    if active_tx is not None and resnapshot:
        rule = fees.rule_for_lead(lead)
        if rule is not None:
            _take_snapshot(active_tx, rule)
    rule = effective_rule(lead, active_tx)
    _apply_amounts(lead, active_tx, rule)
    if active_tx is not None:
        after = audit.snapshot(active_tx, *TX_FIELDS)
        if after != before:
            action = "commission.rule_reapplied" if resnapshot else "commission.amounts_changed"
            audit.record(actor, action, active_tx, before=before, after=after)
    return fees.preview(lead.commission_amount, rule)


# --- the admin's actions on a transaction ------------------------------------------------------


def link(endpoint: str, **values) -> str:
    """A path for a notification link, also outside a request (jobs, demo seeding)."""
    with nullcontext() if has_request_context() else current_app.test_request_context():
        return url_for(endpoint, **values)


GONE = "This commission no longer exists: its lead was deleted. Reload the page."


def lock(tx: CommissionTransaction, gone: type[Exception] = CommissionError) -> CommissionTransaction:
    """Re-read the transaction row under SELECT ... FOR UPDATE (a no-op lock on SQLite).

    The row may have been deleted (with its lead) since the page was read or while we waited for the
    lock: that raises `gone` (the caller's own refusal type, so its view answers it) with GONE.
    """
    db.session.flush()
    row = db.session.get(CommissionTransaction, tx.id, with_for_update=True, populate_existing=True)
    if row is None:
        raise gone(GONE)
    return row


def paid_on_problem(paid_on: date) -> str | None:
    """Why `paid_on` cannot be the date a client paid (it happened, so not after tomorrow: time zones), or None."""
    if paid_on > (utcnow() + timedelta(days=1)).date():
        return "The date cannot be in the future."
    return None


def _check_paid_on(paid_on: date) -> None:
    problem = paid_on_problem(paid_on)
    if problem:
        raise PaymentDateInvalid(problem, "paid_on")


def _require_pending_with_amount(tx: CommissionTransaction, what: str) -> None:
    if tx.status != "pending":
        raise CommissionError(f"Only a pending commission can be {what}; this one is {tx.status}.")
    if tx.gross_commission <= 0:
        raise CommissionError("Enter the lead's commission amount before recording the client payment.")


def record_client_payment(tx, actor, paid_on: date, reference: str | None = None, attachment=None):
    """The client paid the platform (SPEC 2.5): pending → due, with date, optional reference and file.

    `attachment` is an uploaded file (werkzeug FileStorage), a direct upload (storage.ClaimedUpload) or
    None; a rejected upload raises storage.UploadRejected before anything is written.
    """
    from app.files import storage

    _check_paid_on(paid_on)
    tx = lock(tx)
    _require_pending_with_amount(tx, "marked as paid by the client")
    before = audit.snapshot(tx, *PAYMENT_FIELDS)
    if storage.has_upload(attachment):
        stored = storage.save_upload(
            attachment, "client_payment", actor=actor, cp_id=tx.cp_id, allowed=("image", "pdf")
        )
        tx.client_payment_file_id = stored.id
    tx.status, tx.client_paid_at, tx.client_payment_reference = "due", paid_on, (reference or None)
    db.session.flush()
    after = audit.snapshot(tx, *PAYMENT_FIELDS)
    if tx.client_payment_file_id:
        after["attachment"] = str(tx.client_payment_file_id)
    audit.record(actor, "commission.client_payment_recorded", tx, before=before, after=after)
    return tx


def flag_paid_directly(tx, actor, paid_on: date, reference: str | None = None):
    """The client paid the CP itself (SPEC 2.8): the CP has its money, so pending → paid and frozen;
    the CP now owes the platform fee and pays it from its portal (services.payments)."""
    _check_paid_on(paid_on)
    tx = lock(tx)
    _require_pending_with_amount(tx, "flagged as paid directly to the partner")
    before = audit.snapshot(tx, *PAYMENT_FIELDS)
    tx.client_paid_cp_directly = True
    tx.client_paid_at, tx.client_payment_reference = paid_on, (reference or None)
    tx.status, tx.settled_at, tx.settled_by = "paid", utcnow(), actor.id
    tx.settlement_reference = DIRECT_PAYMENT_NOTE
    db.session.flush()
    audit.record(actor, "commission.paid_directly", tx, before=before, after=audit.snapshot(tx, *PAYMENT_FIELDS))
    return tx


def reapply_current_rule(tx, actor):
    """The admin's explicit choice (SPEC 2.4): put the lead's current fee rule on an unpaid transaction."""
    tx = lock(tx)
    if tx.status not in ("pending", "due"):
        raise CommissionError(f"The fee rule can only be re-applied to an unpaid commission; this one is {tx.status}.")
    if tx.lead is None:
        raise CommissionError("This commission's lead no longer exists.")
    before = audit.snapshot(tx, *TX_FIELDS)
    recompute(tx.lead, actor, resnapshot=True)
    db.session.flush()
    if audit.snapshot(tx, *TX_FIELDS) == before:  # nothing changed, but the admin's decision is still recorded
        audit.record(actor, "commission.rule_reapplied", tx, before=before, after=before)
    return tx
