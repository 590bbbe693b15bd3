"""The Stripe webhook's events: verified, parsed field by field, each applied once (SPEC 2.8).

A card payment counts only through `checkout.session.completed` (or an async success) for the live payment
of a fee; a completion for any other payment is refunded or flagged (app.money.payments). An event we
cannot read is refused with WebhookRejected (the webhook answers 400); a well-formed event that is not ours
is acknowledged and changes nothing but the record of its id.
"""

import json
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.audit import trail as audit
from app.extensions import db
from app.models import CommissionTransaction, CpPayment, StripeEvent
from app.models.base import utcnow
from app.money.payments import (
    PAYMENT_FIELDS,
    REPLACED_NOTE,
    fee_owed,
    lock_both,
    notify_outcome,
    payments_for,
    refund_stale,
)

COMPLETIONS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
FAILURES = {
    "checkout.session.expired": "The card checkout expired before it was paid.",
    "checkout.session.async_payment_failed": "The card payment failed.",
    "payment_intent.payment_failed": "The card payment failed.",
}
HANDLED = (*COMPLETIONS, *FAILURES)


class WebhookRejected(ValueError):
    """A webhook request we do not accept (bad signature, or an event we cannot read); answered 400."""


@dataclass(frozen=True)
class StripeEventData:
    """The parts of a verified Stripe event this app reads, each checked for its type."""

    id: str
    type: str
    object_kind: str | None = None
    object_id: str | None = None
    payment_ref: str | None = None  # our CpPayment id, as Stripe echoes it (metadata or client_reference_id)
    payment_status: str | None = None
    payment_intent: str | None = None


def verify_event(payload: bytes, signature: str | None) -> StripeEventData:
    """The event, if the Stripe-Signature header is valid for STRIPE_WEBHOOK_SECRET and the body is an event
    we can read; else WebhookRejected (its message is the JSON error answered)."""
    import stripe  # on use, as in app.money.payments

    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise WebhookRejected("invalid signature")
    try:
        stripe.WebhookSignature.verify_header(payload, signature or "", secret, stripe.Webhook.DEFAULT_TOLERANCE)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise WebhookRejected("invalid signature") from exc
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise WebhookRejected("malformed event: the body is not JSON") from exc
    return parse_event(raw)


def _text(value, what: str, *, required: bool = False, limit: int = 255) -> str | None:
    """A string field of the event: absent (None) or a short string without NUL (PostgreSQL refuses NUL)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise WebhookRejected(f"malformed event: {what} is not a valid string")
    return value


def parse_event(raw) -> StripeEventData:
    """Read a decoded event. Any shape Stripe never sends raises WebhookRejected; an event of a type this app does
    not handle is read no further (it is acknowledged, not applied)."""
    if not isinstance(raw, dict):
        raise WebhookRejected("malformed event: not a JSON object")
    event_id = _text(raw.get("id"), "id", required=True)
    kind = _text(raw.get("type"), "type", required=True, limit=120)
    if kind not in HANDLED:
        return StripeEventData(event_id, kind)
    data = raw.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise WebhookRejected("malformed event: data.object is missing")
    metadata = obj.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise WebhookRejected("malformed event: metadata is not a map of strings")
    for amount in ("amount_total", "amount", "amount_received"):
        value = obj.get(amount)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise WebhookRejected(f"malformed event: {amount} is not a whole number of cents")
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):  # an expanded PaymentIntent
        intent = intent.get("id")
    if kind.startswith("payment_intent."):
        intent = obj.get("id")
    return StripeEventData(
        event_id,
        kind,
        object_kind=_text(obj.get("object"), "object"),
        object_id=_text(obj.get("id"), "object id"),
        payment_ref=_text(metadata.get("payment_id") or obj.get("client_reference_id"), "payment reference"),
        payment_status=_text(obj.get("payment_status"), "payment_status"),
        payment_intent=_text(intent, "payment_intent"),
    )


def _first_delivery(event_id: str, event_type: str) -> bool:
    """Insert the event id first; the primary key turns a repeated delivery into a no-op."""
    try:
        with db.session.begin_nested():
            db.session.add(StripeEvent(id=event_id, type=event_type[:120]))
    except sa.exc.IntegrityError:
        return False
    return True


def _payment_for(event: StripeEventData) -> CpPayment | None:
    """Our card payment the event is about, or None (a payment of someone else's integration, or none at all)."""
    payment = None
    if event.payment_ref:
        try:
            payment = db.session.get(CpPayment, uuid.UUID(event.payment_ref))
        except ValueError:
            payment = None
    if payment is None and event.object_kind == "checkout.session" and event.object_id:
        stmt = sa.select(CpPayment).where(CpPayment.stripe_checkout_session_id == event.object_id)
        payment = db.session.scalar(stmt)
    if payment is None or payment.payment_method != "card":
        return None
    return payment


def _not_live_because(payment: CpPayment, tx: CommissionTransaction) -> str | None:
    """Why a completion of this payment must not count (None: it is the live payment of an owed fee)."""
    others = [p for p in payments_for(tx) if p.id != payment.id]
    if any(p.status == "completed" for p in others):
        return "the fee had already been paid"
    if payment.review_note == REPLACED_NOTE or any(p.status == "pending" for p in others):
        return "it had been replaced by a newer payment"
    if not fee_owed(tx):
        return "no fee was owed any more"
    return None


def _complete_card(payment: CpPayment, tx: CommissionTransaction, event: StripeEventData) -> None:
    if payment.status == "completed" or payment.refunded_at is not None or payment.needs_review:
        return  # already counted, or already refunded / flagged
    payment.stripe_payment_id = event.payment_intent or payment.stripe_payment_id
    reason = _not_live_because(payment, tx)
    if reason is not None:
        refund_stale(payment, reason)
        return
    before = audit.snapshot(payment, *PAYMENT_FIELDS)
    payment.status, payment.completed_at = "completed", utcnow()
    payment.review_note = None
    db.session.flush()
    audit.record(None, "payment.completed", payment, before=before, after=audit.snapshot(payment, *PAYMENT_FIELDS))
    notify_outcome(payment, "received")


def _fail_card(payment: CpPayment, reason: str) -> None:
    if payment.status != "pending":
        return  # completed is final; an already failed payment stays failed
    before = audit.snapshot(payment, *PAYMENT_FIELDS)
    payment.status, payment.review_note = "failed", reason
    db.session.flush()
    audit.record(None, "payment.failed", payment, before=before, after=audit.snapshot(payment, *PAYMENT_FIELDS))


def handle_stripe_event(event: StripeEventData) -> bool:
    """Apply a verified, parsed Stripe event once. Returns False for a repeated or irrelevant delivery."""
    if not _first_delivery(event.id, event.type) or event.type not in HANDLED:
        return False
    payment = _payment_for(event)
    if payment is None:
        return False
    tx, payment = lock_both(payment)
    paid = event.payment_status in ("paid", "no_payment_required")
    if event.type in COMPLETIONS and (paid or event.type == "checkout.session.async_payment_succeeded"):
        _complete_card(payment, tx, event)
    elif event.type in FAILURES:
        _fail_card(payment, FAILURES[event.type])
    return True
