"""The CP paying the platform fee it owes when the client paid the CP directly (SPEC 2.8).

By card: a Stripe Checkout session is created and the CpPayment stays `pending` until the signed
webhook `checkout.session.completed` arrives (handle_stripe_event). Each Stripe event id is stored
first in StripeEvent, whose primary key makes a second delivery a no-op. A completed payment is
final: later events for the same session (expired, failed) do not move it back.

By bank transfer: the CP uploads the receipt (pending); an admin confirms (completed) or rejects
(failed, with a note).
"""

import uuid

import sqlalchemy as sa
import stripe
from flask import current_app

from app.extensions import db
from app.models import CommissionTransaction, CpPayment, StripeEvent
from app.models.base import utcnow
from app.services import audit, notifications, storage
from app.services.commissions import link, lock
from app.web import money

PAYMENT_FIELDS = ("status", "payment_method", "amount", "stripe_payment_id", "review_note")
REPLACED_NOTE = "Replaced by a newer card payment attempt."


class PaymentError(Exception):
    """A payment action that is not possible now; the message is for the user."""


def payments_for(tx: CommissionTransaction) -> list[CpPayment]:
    stmt = sa.select(CpPayment).where(CpPayment.commission_tx_id == tx.id).order_by(CpPayment.created_at.desc())
    return list(db.session.scalars(stmt))


def fee_collected(tx: CommissionTransaction) -> bool:
    """True once the CP's payment of the platform fee has completed."""
    return any(p.status == "completed" for p in payments_for(tx))


def fee_owed(tx: CommissionTransaction) -> bool:
    """The CP still owes this transaction's platform fee (the client paid the CP directly)."""
    return tx.client_paid_cp_directly and tx.status == "paid" and tx.platform_fee > 0 and not fee_collected(tx)


def _check_can_pay(tx: CommissionTransaction, cp_user) -> None:
    partner = cp_user.partner
    if partner is None or tx.cp_id != partner.id:
        raise PaymentError("This commission is not yours.")
    if any(p.status == "completed" for p in payments_for(tx)):
        raise PaymentError("The platform fee for this lead has already been paid.")
    if not fee_owed(tx):
        raise PaymentError("No platform fee is owed on this commission: the client did not pay you directly.")
    if any(p.status == "pending" and p.payment_method == "bank_transfer" for p in payments_for(tx)):
        raise PaymentError("Your bank-transfer receipt is waiting for an admin to confirm it.")


def _new_payment(tx, method: str, cp_user) -> CpPayment:
    payment = CpPayment(
        commission_tx_id=tx.id, cp_id=tx.cp_id, payment_method=method, amount=tx.platform_fee, status="pending"
    )
    db.session.add(payment)
    db.session.flush()
    audit.record(cp_user, "payment.started", payment, after=audit.snapshot(payment, *PAYMENT_FIELDS))
    return payment


def _configure_stripe() -> str:
    key = current_app.config.get("STRIPE_SECRET_KEY")
    if not key:
        raise PaymentError("Card payments are not available right now. Please pay by bank transfer.")
    if current_app.config.get("STRIPE_API_BASE"):
        stripe.api_base = current_app.config["STRIPE_API_BASE"]
    return key


def start_card_payment(tx, cp_user, success_url: str, cancel_url: str) -> tuple[CpPayment, str]:
    """Create a pending card payment and its Stripe Checkout session; returns (payment, checkout URL)."""
    tx = lock(tx)
    _check_can_pay(tx, cp_user)
    api_key = _configure_stripe()
    for earlier in payments_for(tx):
        if earlier.status == "pending":  # an abandoned checkout: only the newest attempt stays open
            earlier.status, earlier.review_note = "failed", REPLACED_NOTE
    payment = _new_payment(tx, "card", cp_user)
    title = tx.lead.title if tx.lead is not None else "Lead"
    try:
        session = stripe.checkout.Session.create(
            api_key=api_key,
            mode="payment",
            line_items=[
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": current_app.config["STRIPE_CURRENCY"],
                        "unit_amount": int(payment.amount * 100),
                        "product_data": {"name": f"Platform fee for lead '{title}'"[:250]},
                    },
                }
            ],
            client_reference_id=str(payment.id),
            metadata={"payment_id": str(payment.id)},
            payment_intent_data={"metadata": {"payment_id": str(payment.id)}},
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"cp-payment-{payment.id}",
        )
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe checkout session failed: %s", exc)
        raise PaymentError("The card payment could not be started. Please try again in a moment.") from exc
    payment.stripe_checkout_session_id = session["id"]
    db.session.flush()
    return payment, session["url"]


def submit_bank_transfer(tx, cp_user, receipt_upload) -> CpPayment:
    """The CP uploads its bank-transfer receipt: a pending payment, and the admins are asked to confirm it."""
    tx = lock(tx)
    _check_can_pay(tx, cp_user)
    stored = storage.save_upload(
        receipt_upload, "payment_receipt", actor=cp_user, cp_id=tx.cp_id, allowed=("image", "pdf")
    )
    payment = _new_payment(tx, "bank_transfer", cp_user)
    payment.receipt_file_id = stored.id
    db.session.flush()
    notifications.notify_admins(
        "bank_receipt_uploaded",
        reference=("payment", payment.id),
        link=link("admin.commission_detail", tx_id=tx.id),
        company=tx.partner.company_name,
        amount=money(payment.amount),
        title=_title(tx),
    )
    return payment


def _title(tx) -> str:
    return tx.lead.title if tx is not None and tx.lead is not None else "(deleted lead)"


def _lock_payment(payment: CpPayment) -> CpPayment:
    db.session.flush()
    return db.session.get(CpPayment, payment.id, with_for_update=True, populate_existing=True)


def review_bank_transfer(payment, actor, approve: bool, note: str | None = None) -> CpPayment:
    """An admin confirms (completed) or rejects (failed, with a note) a bank-transfer receipt."""
    payment = _lock_payment(payment)
    if payment.payment_method != "bank_transfer":
        raise PaymentError("Card payments are confirmed by Stripe, not by hand.")
    if payment.status != "pending":
        raise PaymentError(f"This payment has already been reviewed ({payment.status}).")
    if not approve and not (note or "").strip():
        raise PaymentError("Say why the receipt is rejected; the partner will read this note.")
    before = audit.snapshot(payment, *PAYMENT_FIELDS)
    payment.reviewed_by, payment.review_note = actor.id, (note or "").strip() or None
    if approve:
        payment.status, payment.completed_at = "completed", utcnow()
    else:
        payment.status = "failed"
    db.session.flush()
    action = "payment.confirmed" if approve else "payment.rejected"
    audit.record(actor, action, payment, before=before, after=audit.snapshot(payment, *PAYMENT_FIELDS))
    _notify_outcome(payment, "confirmed" if approve else "rejected")
    return payment


def _notify_outcome(payment: CpPayment, outcome: str) -> None:
    user = payment.partner.user if payment.partner is not None else None
    if user is None:
        return
    notifications.notify(
        [user],
        "cp_payment_reviewed",
        reference=("payment", payment.id),
        link=link("cp.commission_detail", tx_id=payment.commission_tx_id),
        amount=money(payment.amount),
        title=_title(payment.transaction),
        outcome=outcome,
    )


# --- the Stripe webhook -------------------------------------------------------------------------


def verify_event(payload: bytes, signature: str | None):
    """The event as a plain dict, if the Stripe-Signature header is valid for STRIPE_WEBHOOK_SECRET; else ValueError."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise ValueError("webhook secret not configured")
    try:
        return stripe.Webhook.construct_event(payload, signature or "", secret).to_dict()
    except stripe.SignatureVerificationError as exc:
        raise ValueError("bad signature") from exc


def _first_delivery(event_id: str, event_type: str) -> bool:
    """Insert the event id first; the primary key turns a repeated delivery into a no-op."""
    try:
        with db.session.begin_nested():
            db.session.add(StripeEvent(id=event_id, type=event_type[:120]))
    except sa.exc.IntegrityError:
        return False
    return True


def _payment_for(obj) -> CpPayment | None:
    metadata = obj.get("metadata") or {}
    payment_id = metadata.get("payment_id") or obj.get("client_reference_id")
    payment = None
    if payment_id:
        try:
            payment = db.session.get(CpPayment, uuid.UUID(str(payment_id)))
        except ValueError:
            payment = None
    if payment is None and obj.get("object") == "checkout.session" and obj.get("id"):
        payment = db.session.scalar(sa.select(CpPayment).where(CpPayment.stripe_checkout_session_id == obj["id"]))
    return _lock_payment(payment) if payment is not None else None


def _complete_card(payment: CpPayment, obj) -> None:
    if payment.status == "completed":
        return
    before = audit.snapshot(payment, *PAYMENT_FIELDS)
    payment.status, payment.completed_at = "completed", utcnow()
    payment.stripe_payment_id = obj.get("payment_intent") or payment.stripe_payment_id
    payment.review_note = None
    db.session.flush()
    audit.record(None, "payment.completed", payment, before=before, after=audit.snapshot(payment, *PAYMENT_FIELDS))
    _notify_outcome(payment, "received")


def _fail_card(payment: CpPayment, reason: str) -> None:
    if payment.status != "pending":
        return  # completed is final; an already failed payment stays failed
    before = audit.snapshot(payment, *PAYMENT_FIELDS)
    payment.status, payment.review_note = "failed", reason
    db.session.flush()
    audit.record(None, "payment.failed", payment, before=before, after=audit.snapshot(payment, *PAYMENT_FIELDS))


def handle_stripe_event(event) -> bool:
    """Apply a verified Stripe event once. Returns False for a repeated or irrelevant delivery."""
    if not _first_delivery(event["id"], event["type"]):
        return False
    obj = event["data"]["object"]
    payment = _payment_for(obj)
    if payment is None or payment.payment_method != "card":
        return False
    kind = event["type"]
    paid = obj.get("payment_status") in ("paid", "no_payment_required")
    if (kind == "checkout.session.completed" and paid) or kind == "checkout.session.async_payment_succeeded":
        _complete_card(payment, obj)
    elif kind == "checkout.session.expired":
        _fail_card(payment, "The card checkout expired before it was paid.")
    elif kind in ("checkout.session.async_payment_failed", "payment_intent.payment_failed"):
        _fail_card(payment, "The card payment failed.")
    return True
