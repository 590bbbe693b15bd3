"""POST /webhooks/stripe: Stripe's events, verified by their signature."""

from flask import current_app, jsonify, request

from app.access import public
from app.extensions import csrf, db
from app.money import stripe_events
from app.ops import metrics
from app.webhooks.blueprint import bp


@bp.post("/webhooks/stripe", endpoint="stripe")
@public
@csrf.exempt
def stripe_webhook():
    """Stripe events: verified with STRIPE_WEBHOOK_SECRET, each event id processed once.

    400 with a small JSON error for a bad signature or an event we cannot read (Stripe retries it, and it shows
    in the Stripe dashboard); 200 for a well-formed event, applied or not."""
    payload = request.get_data(cache=False)
    try:
        event = stripe_events.verify_event(payload, request.headers.get("Stripe-Signature"))
    except stripe_events.WebhookRejected as exc:
        current_app.logger.warning("stripe webhook rejected: %s", exc)
        metrics.stripe_webhook_failed("rejected")
        return jsonify(error=str(exc)), 400
    try:
        processed = stripe_events.handle_stripe_event(event)
        db.session.commit()
    except Exception:
        metrics.stripe_webhook_failed("failed")  # answered 500 by the error handler: Stripe retries the event
        raise
    current_app.logger.info("stripe event %s %s processed=%s", event.id, event.type, processed)
    return jsonify(received=True, processed=processed)
