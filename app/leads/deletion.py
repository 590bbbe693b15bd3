"""Deleting a lead (super admin only): which money records keep it, and the deletion with its full audit record.

A lead whose money moved with a receipt (a paid commission, a settled platform fee, a CP payment) stays, so those
records and their receipts keep agreeing; see delete_lead.
"""

import sqlalchemy as sa

from app.audit import trail as audit
from app.extensions import db
from app.leads.pipeline import NotAllowed, PipelineError
from app.models import CommissionTransaction, CpPayment, PlatformFeeSettlementItem
from app.money import commissions
from app.web.money import format_money

LEAD_FIELDS = (
    "title", "description", "category_id", "originated_by", "allocated_to", "created_by", "allocation_status",
    "kanban_stage", "contact_name", "contact_email", "contact_phone", "contact_company", "lead_value",
    "commission_amount", "fee_override_type", "fee_override_value", "platform_fee_amount", "net_commission",
    "fee_capped", "lost_reason", "stage_changed_at", "version", "created_at", "updated_at",
)  # fmt: skip


class NeedsSecondConfirmation(PipelineError):
    status = 409


class KeptForMoney(PipelineError):
    """The lead carries money records with receipts, so it cannot be deleted (see delete_lead)."""

    status = 409

    def __init__(self, blockers: list[str]):
        super().__init__(
            "This lead cannot be deleted: " + "; ".join(blockers) + ". Those records and their receipts must "
            "keep matching the money that moved, so the lead stays."
        )
        self.blockers = blockers


def money_records(lead, lock: bool = False) -> tuple[list[str], bool]:
    """What stops the lead's deletion, and whether deleting it needs a second confirmation.

    Returns (blockers, needs_second): `blockers` names, in the super admin's words, each money record that
    has its own receipt and so must outlive the lead; `needs_second` is True when money was recorded (the
    client payment) but nothing was paid out or receipted yet. `lock=True` takes the transaction's row lock
    first (see pipeline._assert_not_frozen), so a settlement cannot slip in between this check and the deletion.
    """
    from app.money.receipts import receipt_number  # here, not at the top: it loads reportlab

    tx = commissions.transaction_for(lead, lock=lock)
    if tx is None:
        return [], False
    blockers = []
    item = db.session.scalar(
        sa.select(PlatformFeeSettlementItem).where(PlatformFeeSettlementItem.transaction_id == tx.id)
    )
    if item is not None:
        settlement = item.settlement
        count = settlement.lead_count
        blockers.append(
            f"its platform fee is part of settlement {receipt_number('FS', settlement.id)} "
            f"({format_money(settlement.amount)} for {count} {'lead' if count == 1 else 'leads'})"
        )
    if tx.status == "paid":
        blockers.append(
            "the client paid the partner directly and the commission is closed"
            if tx.client_paid_cp_directly
            else f"its commission was paid to the partner (receipt {receipt_number('CS', tx.id)})"
        )
    payments = db.session.scalars(
        sa.select(CpPayment).where(CpPayment.commission_tx_id == tx.id, CpPayment.status != "failed")
    )
    for payment in payments:
        blockers.append(
            f"the partner paid its platform fee (receipt {receipt_number('CP', payment.id)})"
            if payment.status == "completed"
            else "the partner's payment of its platform fee is still in progress"
        )
    return blockers, not blockers and tx.status == "due"


def full_content(lead) -> dict:
    """Everything about the lead, for the audit record of its deletion."""
    tx = commissions.transaction_for(lead)
    content = audit.snapshot(lead, "id", *LEAD_FIELDS)
    content["notes"] = [{"author_id": n.author_id, "body": n.body, "created_at": n.created_at} for n in lead.notes]
    content["activity"] = [
        {"actor_id": a.actor_id, "action": a.action, "detail": a.detail, "created_at": a.created_at}
        for a in lead.activity
    ]
    content["evidence"] = [
        {"file_id": e.file_id, "file_type": e.file_type, "description": e.description} for e in lead.evidence
    ]
    if tx is not None:
        content["commission_transaction"] = audit.snapshot(
            tx, "id", "status", "gross_commission", "platform_fee", "net_commission", "settled_at", "settled_by"
        )
    return audit._plain(content)


def delete_lead(lead, actor, confirmed_twice: bool = False) -> None:
    """Delete a lead with everything attached, audited with its full content.

    Refused (KeptForMoney, 409, nothing changed) while a money record with its own receipt hangs on the
    lead: a paid commission, a fee inside a platform-fee settlement, a completed (or pending) CP payment.
    Why refuse rather than delete or recompute: those receipts describe money that really moved. Removing
    one line of a two-lead settlement would leave "$645.00 for 2 leads" over a single $165 line (or, if the
    settlement were recomputed, a receipt for a transfer that never happened at that amount), and the
    super admin's settled income would fall by a fee that was in fact received. The lead stays; the
    records and their receipts keep agreeing.

    A lead whose client payment was recorded (due) but not yet paid out has no receipt; it is deleted on
    the super admin's second confirmation. Its transaction goes with it, recorded in the audit.
    """
    if not getattr(actor, "is_super", False):
        raise NotAllowed("Only the super admin can delete leads.")
    blockers, needs_second = money_records(lead, lock=True)
    if blockers:
        raise KeptForMoney(blockers)
    if needs_second and not confirmed_twice:
        raise NeedsSecondConfirmation(
            "The client payment for this lead's commission has been recorded. Deleting the lead removes that "
            "record too. Confirm a second time to delete it anyway."
        )
    before = full_content(lead)
    tx = commissions.transaction_for(lead)
    if tx is not None:
        db.session.execute(sa.delete(CpPayment).where(CpPayment.commission_tx_id == tx.id))  # failed ones only
        db.session.execute(sa.delete(CommissionTransaction).where(CommissionTransaction.id == tx.id))
    audit.record(actor, "lead.deleted", ("leads", lead.id), before=before, after=None)
    db.session.delete(lead)
    db.session.flush()
