"""Webhook records for the route walk: an endpoint of cp's and one failed delivery in its log.

The endpoint's URL is a private address written straight to the row (the pages would refuse it): whatever the walk
sends to it (a test event, a redelivery) is refused at delivery by the address check, so no test posts anywhere."""

import uuid

from app.comms import webhooks
from app.extensions import db
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow


def add(world):
    cp = world["partners"]["cp"]
    endpoint = WebhookEndpoint(
        partner_id=cp.id,
        url="https://10.0.0.1/leadflow",
        description="World CRM",
        events=["lead.assigned", "lead.stage_changed"],
        secret=webhooks.new_secret(),
        created_by=cp.user.id,
    )
    db.session.add(endpoint)
    db.session.flush()
    event_id = uuid.uuid4()
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        event="lead.assigned",
        event_id=event_id,
        payload={"id": str(event_id), "type": "lead.assigned", "created_at": "2026-01-15T09:00:00Z", "data": {}},
        status="failed",
        attempts=1,
        response_code=500,
        last_error="The receiver answered 500",
    )
    db.session.add(delivery)
    db.session.flush()
    db.session.add(
        WebhookAttempt(delivery_id=delivery.id, started_at=utcnow(), response_code=500, duration_ms=42, error=None)
    )
    world["ids"].update(webhook=endpoint.id, webhook_delivery=delivery.id)
