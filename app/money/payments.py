"""The CP paying the platform fee it owes when the client paid the CP directly (SPEC 2.8).

By card: a Stripe Checkout session is created and the CpPayment stays `pending` until the signed
webhook `checkout.session.completed` arrives (app.money.stripe_events). A fee has at most one open
Checkout Session: a new card attempt first expires the earlier one at Stripe and marks it failed
("replaced"), and refuses to start if Stripe says the earlier one was already paid. A completed
payment is final: later events for the same session (expired, failed) do not move it back.

Only the live payment counts. A completion for a payment that is not the live one (replaced, or the
fee already paid by another payment) is never counted: its money is refunded through Stripe (one
idempotency key per payment) and recorded on the payment; if the refund cannot be made, the payment is
flagged `needs_review` for an admin. Either way it is audited and the admins are told.

By bank transfer: the CP uploads the receipt (pending); an admin confirms (completed) or rejects
(failed, with a note).

Stripe's SDK is imported inside the functions that call it: it (with aiohttp) is ~12 MB that a page worker
holds only once a card payment is made.
"""

import sqlalchemy as sa
from flask import current_app

from app.audit import trail as audit
from app.comms import notifications
from app.errors import Refused
from app.extensions import db
from app.files import storage
from app.models import CommissionTransaction, CpPayment
from app.models.base import utcnow
from app.money.commissions import link, lock
from app.partners.members import active_users
from app.web.money import format_money

PAYMENT_FIELDS = ("status", "payment_method", "amount", "stripe_payment_id", "review_note")
REFUND_FIELDS = (*PAYMENT_FIELDS, "stripe_refund_id", "refunded_at", "needs_review")
REPLACED_NOTE = "Replaced by a newer card payment attempt."
NOT_STARTED = "The card payment could not be started. Please try again in a moment."


class PaymentError(Refused):
    """A payment action that is not possible now; the message is for the user."""


class RefundFailed(Exception):
    """Stripe did not take back a payment that must not count; the message says why (for an admin)."""


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
    import stripe

    key = current_app.config.get("STRIPE_SECRET_KEY")
    if not key:
        raise PaymentError("Card payments are not available right now. Please pay by bank transfer.")
    if current_app.config.get("STRIPE_API_BASE"):
        stripe.api_base = current_app.config["STRIPE_API_BASE"]
    return key


def _session_state(session_id: str, api_key: str) -> str:
    """Expire an open Checkout Session at Stripe; returns its state afterwards (expired, or complete if paid)."""
    import stripe

    try:
        return getattr(stripe.checkout.Session.expire(session_id, api_key=api_key), "status", None) or "expired"
    except stripe.InvalidRequestError:
        pass  # no longer open (already paid, or already expired): ask Stripe which
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe checkout session expire failed: %s", exc)
        raise PaymentError(NOT_STARTED) from exc
    try:
        return getattr(stripe.checkout.Session.retrieve(session_id, api_key=api_key), "status", None) or "open"
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe checkout session retrieve failed: %s", exc)
        raise PaymentError(NOT_STARTED) from exc


def _close_open_checkouts(tx, cp_user, *, strict: bool) -> None:
    """Expire the fee's open card checkouts at Stripe, then mark them failed (replaced), audited.

    A checkout Stripe reports as paid stops the new attempt: that money is on its way. With `strict`
    off (a bank transfer replacing a card attempt) a checkout Stripe cannot be asked about is marked
    replaced anyway: if it is paid later, that completion is refunded, never counted.
    """
    open_cards = [p for p in payments_for(tx) if p.status == "pending" and p.payment_method == "card"]
    for earlier in open_cards:
        if earlier.stripe_checkout_session_id:
            try:
                state = _session_state(earlier.stripe_checkout_session_id, _configure_stripe())
            except PaymentError:
                if strict:
                    raise
                state = "unknown"
            if state == "complete":
                raise PaymentError(
                    "Your earlier card payment is being processed. Wait for Stripe to confirm it before paying again."
                )
            if state == "open" and strict:
                raise PaymentError(NOT_STARTED)
        before = audit.snapshot(earlier, *PAYMENT_FIELDS)
        earlier.status, earlier.review_note = "failed", REPLACED_NOTE
        db.session.flush()
        audit.record(
            cp_user, "payment.replaced", earlier, before=before, after=audit.snapshot(earlier, *PAYMENT_FIELDS)
        )


def start_card_payment(tx, cp_user, success_url: str, cancel_url: str) -> tuple[CpPayment, str]:
    """Create a pending card payment and its Stripe Checkout session; returns (payment, checkout URL).

    The earlier open checkout of the same fee is expired at Stripe first, so one fee never has two."""
    import stripe

    tx = lock(tx)
    _check_can_pay(tx, cp_user)
    api_key = _configure_stripe()
    _close_open_checkouts(tx, cp_user, strict=True)
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
        raise PaymentError(NOT_STARTED) from exc
    payment.stripe_checkout_session_id = session["id"]
    db.session.flush()
    return payment, session["url"]


def submit_bank_transfer(tx, cp_user, receipt_upload) -> CpPayment:
    """The CP uploads its bank-transfer receipt: a pending payment, and the admins are asked to confirm it.

    An open card checkout of the same fee is closed first (see _close_open_checkouts)."""
    tx = lock(tx)
    _check_can_pay(tx, cp_user)
    _close_open_checkouts(tx, cp_user, strict=False)
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
        amount=format_money(payment.amount),
        title=_title(tx),
    )
    return payment


def _title(tx) -> str:
    return tx.lead.title if tx is not None and tx.lead is not None else "(deleted lead)"


def lock_payment(payment: CpPayment) -> CpPayment:
    db.session.flush()
    return db.session.get(CpPayment, payment.id, with_for_update=True, populate_existing=True)


def lock_both(payment: CpPayment) -> tuple[CommissionTransaction, CpPayment]:
    """Lock the fee's transaction, then the payment: the order start_card_payment takes them in."""
    return lock(payment.transaction), lock_payment(payment)


def review_bank_transfer(payment, actor, approve: bool, note: str | None = None) -> CpPayment:
    """An admin confirms (completed) or rejects (failed, with a note) a bank-transfer receipt."""
    tx, payment = lock_both(payment)
    if payment.payment_method != "bank_transfer":
        raise PaymentError("Card payments are confirmed by Stripe, not by hand.")
    if payment.status != "pending":
        raise PaymentError(f"This payment has already been reviewed ({payment.status}).")
    if not approve and not (note or "").strip():
        raise PaymentError("Say why the receipt is rejected; the partner will read this note.")
    if approve and fee_collected(tx):
        raise PaymentError("This fee has already been paid by another payment; reject this receipt instead.")
    before = audit.snapshot(payment, *PAYMENT_FIELDS)
    payment.reviewed_by, payment.review_note = actor.id, (note or "").strip() or None
    if approve:
        payment.status, payment.completed_at = "completed", utcnow()
    else:
        payment.status = "failed"
    db.session.flush()
    action = "payment.confirmed" if approve else "payment.rejected"
    audit.record(actor, action, payment, before=before, after=audit.snapshot(payment, *PAYMENT_FIELDS))
    notify_outcome(payment, "confirmed" if approve else "rejected")
    return payment


def notify_outcome(payment: CpPayment, outcome: str) -> None:
    if payment.partner is None:
        return
    notifications.notify(
        active_users(payment.partner, roles=("owner", "manager")),
        "cp_payment_reviewed",
        reference=("payment", payment.id),
        link=link("cp.commission_detail", tx_id=payment.commission_tx_id),
        amount=format_money(payment.amount),
        title=_title(payment.transaction),
        outcome=outcome,
    )


# --- money that must not count: refunds ---------------------------------------------------------


def _refund(payment: CpPayment) -> str:
    """Refund the payment's charge in full through Stripe; returns the refund id. One key per payment, so a
    retried webhook or a second admin click never refunds twice."""
    import stripe

    if not payment.stripe_payment_id:
        raise RefundFailed("Stripe did not say which charge to refund")
    try:
        api_key = _configure_stripe()
        refund = stripe.Refund.create(
            api_key=api_key,
            payment_intent=payment.stripe_payment_id,
            reason="duplicate",
            metadata={"payment_id": str(payment.id)},
            idempotency_key=f"cp-payment-refund-{payment.id}",
        )
    except PaymentError as exc:
        raise RefundFailed("card payments are not configured") from exc
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe refund for payment %s failed: %s", payment.id, exc)
        raise RefundFailed(f"Stripe refused the refund: {exc.user_message or exc.__class__.__name__}") from exc
    status = getattr(refund, "status", None)
    if status in ("failed", "canceled"):
        raise RefundFailed(f"Stripe reports the refund {status}")
    return refund["id"]


def refund_stale(payment: CpPayment, reason: str, actor=None) -> None:
    """Money arrived for a payment that must not count: refund it, or flag it for an admin. Audited, notified."""
    before = audit.snapshot(payment, *REFUND_FIELDS)
    payment.status = "failed"  # it never counts, whatever happens to the refund
    try:
        payment.stripe_refund_id = _refund(payment)
    except RefundFailed as exc:
        payment.needs_review = True
        payment.review_note = f"Paid at Stripe after {reason}; not refunded ({exc}). An admin must refund it."
        action, outcome = "payment.refund_failed", "paid after it stopped counting; the refund failed"
    else:
        payment.needs_review, payment.refunded_at = False, utcnow()
        payment.review_note = f"Paid at Stripe after {reason}; refunded in full."
        action, outcome = "payment.refunded", "paid after it stopped counting and was refunded"
    db.session.flush()
    audit.record(actor, action, payment, before=before, after=audit.snapshot(payment, *REFUND_FIELDS))
    notifications.notify_admins(
        "card_payment_not_counted",
        reference=("payment", payment.id),
        link=link("admin.commission_detail", tx_id=payment.commission_tx_id),
        company=payment.partner.company_name if payment.partner is not None else "A partner",
        amount=format_money(payment.amount),
        title=_title(payment.transaction),
        outcome=outcome,
    )
    if payment.refunded_at is not None:
        notify_outcome(payment, "refunded: your fee was already paid or the checkout had been replaced")


def retry_refund(payment, actor) -> CpPayment:
    """An admin retries the Stripe refund of a flagged payment (SPEC 2.8); a refusal keeps the flag."""
    _tx, payment = lock_both(payment)
    if not payment.needs_review:
        raise PaymentError("This payment is not waiting for a refund.")
    before = audit.snapshot(payment, *REFUND_FIELDS)
    try:
        payment.stripe_refund_id = _refund(payment)
    except RefundFailed as exc:
        raise PaymentError(f"The refund did not go through: {exc}. Refund it in the Stripe dashboard.") from exc
    payment.needs_review, payment.refunded_at = False, utcnow()
    payment.review_note = "Refunded in full (retried by an admin)."
    db.session.flush()
    audit.record(actor, "payment.refunded", payment, before=before, after=audit.snapshot(payment, *REFUND_FIELDS))
    notify_outcome(payment, "refunded: your fee was already paid or the checkout had been replaced")
    return payment


def payments_needing_review() -> list[CpPayment]:
    """Card payments whose money came in after they stopped counting and could not be refunded."""
    stmt = sa.select(CpPayment).where(CpPayment.needs_review.is_(True)).order_by(CpPayment.created_at)
    return list(db.session.scalars(stmt))
