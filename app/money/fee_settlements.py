"""Settling the platform fees owed to the super admin (SPEC 2.7) in batches: one settlement, one bank slip.

Which fees are outstanding, and which of them can be settled now, is read in fee_queries; a settled fee's
history in fee_settlement_history.
"""

import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.audit import trail as audit
from app.comms import notifications
from app.extensions import db
from app.models import CommissionTransaction, PlatformFeeSettlement, PlatformFeeSettlementItem
from app.models.base import utcnow
from app.money.fee_filters import FeeFilter
from app.money.fee_queries import matching_outstanding_ids, settleable_ids, waiting_reason
from app.web.money import format_money

CT, ITEM = CommissionTransaction, PlatformFeeSettlementItem
ZERO = Decimal("0.00")
MAX_NOTE = 2000


class SettlementRefused(Exception):
    """The batch cannot be settled as chosen (already settled, void, gone); nothing was written."""


class NothingToSettle(ValueError):
    """No fee was chosen, or the chosen fees add up to nothing."""


def _by_key(idempotency_key: str) -> PlatformFeeSettlement | None:
    return db.session.scalar(
        sa.select(PlatformFeeSettlement).where(PlatformFeeSettlement.idempotency_key == idempotency_key)
    )


def _lock(ids: list[uuid.UUID]) -> list[CommissionTransaction]:
    """SELECT ... FOR UPDATE in id order, so concurrent overlapping batches queue instead of deadlocking."""
    stmt = sa.select(CT).where(CT.id.in_(ids)).order_by(CT.id).with_for_update(of=CT)
    return list(db.session.scalars(stmt.execution_options(populate_existing=True)))


def _titles(txs) -> str:
    names = [f"'{tx.lead.title}'" if tx.lead is not None else "a deleted lead" for tx in txs]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _check_batch(ids: list[uuid.UUID], txs: list[CommissionTransaction]) -> None:
    if len(txs) != len(ids):
        raise SettlementRefused("Some of the chosen fees no longer exist. Reload the page and choose again.")
    void = [tx for tx in txs if tx.status == "void"]
    if void:
        raise SettlementRefused(f"Nothing was settled: the commission of {_titles(void)} is void.")
    settled_ids = set(db.session.scalars(sa.select(ITEM.transaction_id).where(ITEM.transaction_id.in_(ids))))
    if settled_ids:
        already = [tx for tx in txs if tx.id in settled_ids]
        raise SettlementRefused(f"Nothing was settled: the fee of {_titles(already)} has already been settled.")
    ready = settleable_ids(ids)
    waiting = [tx for tx in txs if tx.id not in ready]
    if waiting:
        reason = waiting_reason(waiting[0]).lower()
        raise SettlementRefused(f"Nothing was settled: the fee of {_titles(waiting)} cannot be settled yet ({reason}).")


def _store_slip(slip, actor):
    from app.files import storage

    if slip is None:
        raise NothingToSettle("Attach the bank slip of the transfer.")
    if hasattr(slip, "storage_key"):  # already stored (demo data, tests)
        return slip
    return storage.save_upload(slip, "bank_slip", actor=actor, cp_id=None, allowed=("image", "pdf"))


def settle_fees(
    actor,
    *,
    idempotency_key: str,
    slip,
    note: str | None = None,
    transaction_ids=None,
    fee_filter: FeeFilter | None = None,
    confirmed: tuple[int, Decimal] | None = None,
) -> tuple[PlatformFeeSettlement, bool]:
    """Settle the chosen outstanding fees to the super admin as ONE settlement; returns (settlement, created).

    Choose fees by `transaction_ids` or, for "select all matching the filter", by `fee_filter`.
    The whole batch is refused (SettlementRefused) if any fee is void, gone or already settled. A
    repeated `idempotency_key` (a double submission) returns the first settlement with created=False.
    `slip` is an uploaded file (storage.UploadRejected propagates) or an already StoredFile. `confirmed`, the
    (count, total) the admin was shown and confirmed (app.money.fee_selection), refuses a batch that differs.
    """
    existing = _by_key(idempotency_key)
    if existing is not None:
        return existing, False
    ids = matching_outstanding_ids(fee_filter) if fee_filter is not None else list(transaction_ids or ())
    ids = sorted(set(ids))
    if not ids:
        raise NothingToSettle("Choose at least one outstanding fee to settle.")
    txs = _lock(ids)
    existing = _by_key(idempotency_key)  # a twin request may have committed while we waited for the locks
    if existing is not None:
        return existing, False
    _check_batch(ids, txs)
    amount = sum((tx.platform_fee for tx in txs), ZERO)
    if confirmed is not None and (len(txs), amount) != (confirmed[0], confirmed[1]):
        raise SettlementRefused(
            f"Nothing was settled: the chosen fees now come to {format_money(amount)} for {len(txs)}, not the "
            f"{format_money(confirmed[1])} for {confirmed[0]} you confirmed. Review the batch again."
        )
    if amount <= 0:
        raise NothingToSettle(f"The chosen fees add up to {format_money(ZERO)}; there is nothing to transfer.")
    stored_slip = _store_slip(slip, actor)
    settlement = PlatformFeeSettlement(
        amount=amount,
        lead_count=len(txs),
        settled_by=actor.id,
        bank_slip_file_id=stored_slip.id,
        notes=(note or "").strip()[:MAX_NOTE] or None,
        idempotency_key=idempotency_key,
        settled_at=utcnow(),
    )
    settlement.items = [ITEM(transaction_id=tx.id, lead_id=tx.lead_id, amount=tx.platform_fee) for tx in txs]
    db.session.add(settlement)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the unique item/key constraints: the last line of defence
        raise SettlementRefused("Nothing was settled: these fees were settled by someone else just now.") from exc
    _record(actor, settlement, txs)
    _notify(settlement)
    return settlement, True


def _record(actor, settlement: PlatformFeeSettlement, txs: list[CommissionTransaction]) -> None:
    for tx in txs:
        audit.record(
            actor,
            "platform_fee.settled",
            tx,
            before={"fee_state": "outstanding", "platform_fee": tx.platform_fee, "status": tx.status},
            after={"fee_state": "settled", "platform_fee": tx.platform_fee, "settlement_id": settlement.id},
        )
    audit.record(
        actor,
        "platform_fee_settlement.created",
        settlement,
        before=None,
        after={
            "amount": settlement.amount,
            "lead_count": settlement.lead_count,
            "transactions": [str(tx.id) for tx in txs],
            "bank_slip": settlement.bank_slip_file_id,
        },
    )


def _notify(settlement: PlatformFeeSettlement) -> None:
    from app.money.commissions import link

    notifications.notify_super_admins(
        "platform_fee_settled",
        reference=("settlement", settlement.id),
        link=link("superadmin.settlements_detail", settlement_id=settlement.id),
        amount=format_money(settlement.amount),
        count=settlement.lead_count,
        leads_word="lead" if settlement.lead_count == 1 else "leads",
    )
