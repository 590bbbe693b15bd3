"""Commission records for the route walk, all belonging to world cp:
"pending_tx" (won, client not paid yet), "tx" (due), "paid_tx" (settled with a slip),
"direct_tx" (client paid cp directly; "payment" is its pending bank-transfer receipt) and
"direct_paid_tx" whose fee was paid by card ("completed_payment")."""

from datetime import date

from app.extensions import db
from app.files import storage
from app.models import CpPayment
from app.models.base import utcnow
from app.money import commissions
from tests import factories


def won_transaction(partner, actor, title: str, status: str = "pending", **lead_fields):
    """A won lead of `partner` ($10,000 value, $1,000 commission by default) and its transaction in `status`."""
    lead = factories.make_lead(
        assignee=partner,
        title=title,
        kanban_stage="won",
        lead_value=lead_fields.pop("lead_value", "10000"),
        commission_amount=lead_fields.pop("commission_amount", "1000"),
        **lead_fields,
    )
    tx = commissions.open_for_won_lead(lead, actor)
    if status in ("due", "paid", "direct"):
        tx.status, tx.client_paid_at = "due", date(2026, 1, 15)
    if status == "paid":
        slip = storage.save_bytes(b"%PDF-1.4\n%%EOF\n", "bank_slip", "slip.pdf", "application/pdf", cp_id=partner.id)
        tx.status, tx.bank_slip_file_id, tx.settled_by, tx.settled_at = "paid", slip.id, actor.id, utcnow()
    if status == "direct":
        tx.status, tx.client_paid_cp_directly, tx.settled_at, tx.settled_by = "paid", True, utcnow(), actor.id
    db.session.flush()
    return tx


def add(world):
    cp, admin = world["partners"]["cp"], world["users"]["admin"]
    ids = world["ids"]
    ids["pending_tx"] = won_transaction(cp, admin, "Won, awaiting client").id
    ids["tx"] = won_transaction(cp, admin, "Won, client paid", "due").id
    ids["paid_tx"] = won_transaction(cp, admin, "Won and settled", "paid").id
    direct = won_transaction(cp, admin, "Client paid cp directly", "direct")
    receipt = storage.save_bytes(
        b"%PDF-1.4\n%%EOF\n", "payment_receipt", "transfer.pdf", "application/pdf", cp_id=cp.id
    )
    payment = CpPayment(
        commission_tx_id=direct.id,
        cp_id=cp.id,
        payment_method="bank_transfer",
        amount=direct.platform_fee,
        status="pending",
        receipt_file_id=receipt.id,
    )
    direct_paid = won_transaction(cp, admin, "Direct, fee paid by card", "direct")
    completed = CpPayment(
        commission_tx_id=direct_paid.id,
        cp_id=cp.id,
        payment_method="card",
        amount=direct_paid.platform_fee,
        status="completed",
        stripe_checkout_session_id="cs_test_world",
        completed_at=utcnow(),
    )
    db.session.add_all([payment, completed])
    db.session.flush()
    ids.update(direct_tx=direct.id, payment=payment.id, direct_paid_tx=direct_paid.id, completed_payment=completed.id)
