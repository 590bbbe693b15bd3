"""Settling the net commission to the CP (SPEC 2.6) and the CP's requests for settlement.

A settlement runs under SELECT ... FOR UPDATE on the transaction row, so of two admins (or twenty
threads) only the first settles; the rest see `paid` and are refused. The form carries a one-time
key (stored in settlement_key, UNIQUE): a double submission of the same form returns the first
result instead of settling twice.
"""

from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from app.audit import trail as audit
from app.comms import notifications, webhooks
from app.extensions import db
from app.files import storage
from app.models import CommissionTransaction, StoredFile
from app.models.base import utcnow
from app.money.commissions import link, lock
from app.partners.members import active_users
from app.web.money import format_money

SETTLE_FIELDS = ("status", "net_commission", "bank_slip_file_id", "settlement_reference", "settled_by", "settled_at")


class SettlementRefused(Exception):
    """The settlement cannot happen (already paid, not due, stale amount); the message is for the admin."""


def _refusal_for_status(tx: CommissionTransaction) -> str:
    if tx.status == "paid":
        return "This commission has already been settled."
    if tx.status == "void":
        return "This commission was voided (its lead left Won), so it cannot be settled."
    return "Record the client payment first: only a due commission can be settled."


def _by_key(key: str | None) -> CommissionTransaction | None:
    if not key:
        return None
    return db.session.scalar(sa.select(CommissionTransaction).where(CommissionTransaction.settlement_key == key))


def _same_amount(confirmed, net: Decimal) -> bool:
    try:
        return Decimal(str(confirmed)) == net
    except (InvalidOperation, ValueError):
        return False


def settle_to_cp(tx, actor, bank_slip_file, reference, idempotency_key, confirmed_net) -> CommissionTransaction:
    """Mark a due transaction paid with the admin's bank slip; notify the CP.

    Raises SettlementRefused (nothing written) when the transaction is not due or the confirmed net
    differs from the current one, and storage.UploadRejected when the slip fails its checks.
    """
    earlier = _by_key(idempotency_key)
    if earlier is not None:
        return _replayed(earlier, tx)
    tx = lock(tx, gone=SettlementRefused)
    if idempotency_key and tx.settlement_key == idempotency_key:
        return tx  # the same form, submitted again while the first was being saved
    if tx.status != "due":
        raise SettlementRefused(_refusal_for_status(tx))
    if tx.partner.kyc_status != "verified":  # SPEC 9.1: payouts wait for verified bank details
        raise SettlementRefused("The partner's bank details are not verified: verify them on its page before paying.")
    if not _same_amount(confirmed_net, tx.net_commission):
        raise SettlementRefused(
            f"The net commission is now {format_money(tx.net_commission)}; check the amount and confirm it again."
        )
    slip = _stored_slip(bank_slip_file, actor, tx)
    before = audit.snapshot(tx, *SETTLE_FIELDS)
    tx.status, tx.settled_by, tx.settled_at = "paid", actor.id, utcnow()
    tx.bank_slip_file_id, tx.settlement_reference = slip.id, (reference or None)
    tx.settlement_key = idempotency_key or None
    db.session.flush()
    audit.record(actor, "commission.settled", tx, before=before, after=audit.snapshot(tx, *SETTLE_FIELDS))
    _notify_settled(tx)
    webhooks.emit(tx.partner, "commission.settled", webhooks.commission_data(tx))
    return tx


def _stored_slip(bank_slip_file, actor, tx) -> StoredFile:
    """An uploaded slip is checked and stored; an already stored one (direct upload, demo data) is used as is."""
    if isinstance(bank_slip_file, StoredFile):
        if bank_slip_file.kind != "bank_slip" or not bank_slip_file.is_ready:
            raise storage.UploadRejected("That file is not a bank slip. Please upload the slip again.")
        return bank_slip_file
    return storage.save_upload(bank_slip_file, "bank_slip", actor=actor, cp_id=tx.cp_id, allowed=("image", "pdf"))


def _replayed(earlier: CommissionTransaction, tx) -> CommissionTransaction:
    if earlier.id != tx.id:
        raise SettlementRefused("This form was already used for another commission. Reload the page.")
    return earlier


def _notify_settled(tx: CommissionTransaction) -> None:
    partner = tx.partner
    if partner is None or partner.user is None:
        return
    notifications.notify(
        active_users(partner),
        "commission_settled",
        reference=("commission", tx.id),
        link=link("cp.commission_detail", tx_id=tx.id),
        amount=format_money(tx.net_commission),
        title=tx.lead.title if tx.lead is not None else "(deleted lead)",
    )


def request_settlement(tx, cp_user) -> CommissionTransaction:
    """The CP asks the admins to settle a due transaction; open requests form the admins' queue."""
    tx = lock(tx, gone=SettlementRefused)
    partner = cp_user.partner
    if partner is None or tx.cp_id != partner.id:
        raise SettlementRefused("This commission is not yours.")
    if tx.status != "due":
        raise SettlementRefused("Settlement can be requested once the client payment has been recorded.")
    if tx.settlement_requested_at is not None:
        return tx  # already in the queue; asking twice changes nothing
    tx.settlement_requested_at = utcnow()
    db.session.flush()
    audit.record(
        cp_user, "commission.settlement_requested", tx, after={"settlement_requested_at": tx.settlement_requested_at}
    )
    notifications.notify_admins(
        "settlement_requested",
        reference=("commission", tx.id),
        link=link("admin.commission_detail", tx_id=tx.id),
        company=partner.company_name,
        amount=format_money(tx.net_commission),
        title=tx.lead.title if tx.lead is not None else "(deleted lead)",
    )
    return tx


def request_queue(limit: int | None = None) -> list[CommissionTransaction]:
    """Open settlement requests, oldest first."""
    stmt = (
        sa.select(CommissionTransaction)
        .where(CommissionTransaction.status == "due", CommissionTransaction.settlement_requested_at.is_not(None))
        .order_by(CommissionTransaction.settlement_requested_at)
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))
