"""Outbound webhooks (SPEC 9.5): the endpoints a partner configures, the events the operations emit to them,
"send test" and "redeliver", and what the pages read.

An event is written as one WebhookDelivery per active endpoint of the partner subscribed to it, in the
transaction of the operation that caused it (an outbox: a rolled-back operation sends nothing), and the job that
posts each one (app.jobs.webhooks.deliver) is enqueued after the commit. The body is signed
`X-LeadFlow-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (app/comms/webhook_http.py); the
event's id travels as `id` and as X-LeadFlow-Delivery, so a receiver can drop a repeat. Operations take the acting
user, flush and never commit.
"""

import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.access import WORKERS
from app.audit import trail as audit
from app.comms import webhook_http
from app.comms.notifications import path_for
from app.errors import Refused
from app.extensions import db
from app.jobs.after_commit import on_commit
from app.jobs.queue import WAIT, enqueue
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow
from app.models.webhooks import WEBHOOK_EVENTS

JOB = "app.jobs.webhooks.deliver"
TEST_EVENT = "ping"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the visible prefix of every signing secret, not a secret)
MAX_ENDPOINTS_PER_PARTNER = 10
MAX_DESCRIPTION = 200
LOG_PAGE = 50
STATS_DAYS = 7

# How a receiver checks a call came from us, in five lines of Python: shown on the webhook's page and in the
# README, and used as it stands by the receiver in tests/test_webhooks.py. `body` is the raw request body.
VERIFY_RECIPE = """\
import hashlib, hmac, time
def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(fields["t"])) < tolerance
"""


class WebhookError(Refused):
    """A refused webhook change; `field` names the form field it concerns."""

    status = 422


class DeliveryBusy(WebhookError):
    status = 409


# --- endpoints -----------------------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _require_worker(actor, endpoint: WebhookEndpoint | None = None) -> None:
    """Only the partner's owners and managers change its webhooks (viewers read), and only its own."""
    partner = actor.partner if actor.is_cp else None
    if partner is None or actor.member_role not in WORKERS:
        raise Refused("Only the partner's owners and managers manage its webhooks.")
    if endpoint is not None and endpoint.partner_id != partner.id:
        raise Refused("That webhook belongs to another partner.")


def _clean(url: str, description: str, events) -> tuple[str, str, list[str]]:
    """The endpoint's values, or WebhookError beside the field. The URL's host is resolved and its addresses
    checked now (and again at every delivery)."""
    url = (url or "").strip()
    if not url:
        raise WebhookError("Enter the URL to post the events to.", "url")
    try:
        webhook_http.resolve(url)
    except webhook_http.UnsafeUrl as exc:
        raise WebhookError(str(exc), "url") from exc
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise WebhookError(f"Keep the description under {MAX_DESCRIPTION} characters.", "description")
    chosen = sorted(set(events or []))
    if not chosen or any(event not in WEBHOOK_EVENTS for event in chosen):
        raise WebhookError("Choose at least one event from the list.", "events")
    return url, description, chosen


def create_endpoint(actor, url: str, description: str, events, is_active: bool = True) -> WebhookEndpoint:
    """A new endpoint of the actor's partner, with a fresh signing secret."""
    _require_worker(actor)
    partner = actor.partner
    url, description, events = _clean(url, description, events)
    count = db.session.scalar(sa.select(sa.func.count()).where(WebhookEndpoint.partner_id == partner.id))
    if count >= MAX_ENDPOINTS_PER_PARTNER:
        raise WebhookError(f"A partner may have {MAX_ENDPOINTS_PER_PARTNER} webhooks; delete one first.", "url")
    endpoint = WebhookEndpoint(
        partner_id=partner.id,
        url=url,
        description=description,
        events=events,
        secret=new_secret(),
        is_active=bool(is_active),
        created_by=actor.id,
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record(actor, "webhook.created", endpoint, after=audit.snapshot(endpoint, *_AUDITED))
    return endpoint


_AUDITED = ("url", "description", "events", "is_active")


def update_endpoint(endpoint: WebhookEndpoint, actor, url: str, description: str, events, is_active: bool):
    _require_worker(actor, endpoint)
    url, description, events = _clean(url, description, events)
    before = audit.snapshot(endpoint, *_AUDITED)
    endpoint.url, endpoint.description, endpoint.events, endpoint.is_active = url, description, events, bool(is_active)
    db.session.flush()
    after = audit.snapshot(endpoint, *_AUDITED)
    if after != before:
        audit.record(actor, "webhook.updated", endpoint, before=before, after=after)
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint, actor) -> None:
    """Delete the endpoint with its delivery log (a job still holding one of its deliveries finds it gone)."""
    _require_worker(actor, endpoint)
    audit.record(actor, "webhook.deleted", endpoint, before=audit.snapshot(endpoint, *_AUDITED))
    deliveries = sa.select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
    db.session.execute(
        sa.delete(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(deliveries))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.delete(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .execution_options(synchronize_session=False)
    )
    db.session.delete(endpoint)
    db.session.flush()


def reveal_secret(endpoint: WebhookEndpoint, actor) -> str:
    """The signing secret, for the receiver's configuration; each showing is audited."""
    _require_worker(actor, endpoint)
    audit.record(actor, "webhook.secret_revealed", endpoint)
    return endpoint.secret


def rotate_secret(endpoint: WebhookEndpoint, actor) -> str:
    """A new signing secret; the old one stops verifying at once (deliveries sign when they are sent)."""
    _require_worker(actor, endpoint)
    endpoint.secret = new_secret()
    db.session.flush()
    audit.record(actor, "webhook.secret_rotated", endpoint)
    return endpoint.secret


# --- events --------------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


def _text(value) -> str | None:
    return None if value is None else str(value)


def _money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def _link(endpoint: str, **values) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path_for(endpoint, **values)


def lead_data(lead, **extra) -> dict:
    """A lead as the partner receiving the event may see it (the one it works, or the one it submitted): its
    columns only, so building it costs no query."""
    data = {
        "lead": {
            "id": str(lead.id),
            "title": lead.title,
            "category_id": _text(lead.category_id),
            "channel": lead.channel,
            "intake_status": lead.intake_status,
            "allocation_status": lead.allocation_status,
            "stage": lead.kanban_stage,
            "quality_score": lead.quality_score,
            "originated_by": _text(lead.originated_by),
            "allocated_to": _text(lead.allocated_to),
            "contact": {
                "name": lead.contact_name,
                "first_name": lead.first_name,
                "last_name": lead.last_name,
                "email": lead.contact_email,
                "phone": lead.contact_phone,
                "company": lead.contact_company,
                "job_title": lead.job_title,
            },
            "custom_fields": dict(lead.custom_fields or {}),
            "lead_value": _money(lead.lead_value),
            "commission_amount": _money(lead.commission_amount),
            "net_commission": _money(lead.net_commission),
            "lost_reason": lead.lost_reason,
            "rejection_reason": lead.rejection_reason,
            "version": lead.version,
            "created_at": _iso(lead.created_at),
            "updated_at": _iso(lead.updated_at),
        }
    }
    data.update(extra)
    return data


def assigned_lead_data(lead, **extra) -> dict:
    """lead_data with the link to the lead's page for the partner that works it."""
    return lead_data(lead, url=_link("cp.lead_detail", lead_id=lead.id), **extra)


def commission_data(tx) -> dict:
    """A commission settled to the partner: the amounts (strings with two decimals) and the settlement."""
    return {
        "commission": {
            "id": str(tx.id),
            "lead_id": str(tx.lead_id),
            "status": tx.status,
            "lead_value": _money(tx.lead_value),
            "gross_commission": _money(tx.gross_commission),
            "platform_fee": _money(tx.platform_fee),
            "net_commission": _money(tx.net_commission),
            "won_at": _iso(tx.won_at),
            "settled_at": _iso(tx.settled_at),
            "settlement_reference": tx.settlement_reference,
        },
        "url": _link("cp.commission_detail", tx_id=tx.id),
    }


def _envelope(event: str, event_id: uuid.UUID, data: dict, now: datetime) -> dict:
    return {"id": str(event_id), "type": event, "created_at": _iso(now), "data": data}


def _enqueue_after_commit(delivery_ids: list[str]) -> None:
    def send():
        for delivery_id in delivery_ids:
            enqueue(JOB, delivery_id, when_down=WAIT)  # Redis down: the row waits for the sweeper

    on_commit(db.session, send)


def emit(partner, event: str, data: dict) -> list[WebhookDelivery]:
    """Record `event` for each active endpoint of `partner` subscribed to it, in the caller's transaction; the
    deliveries are posted by jobs enqueued after its commit. No partner, or no such endpoint: nothing."""
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if partner is None:
        return []
    endpoints = db.session.scalars(
        sa.select(WebhookEndpoint).where(WebhookEndpoint.partner_id == partner.id, WebhookEndpoint.is_active)
    ).all()
    endpoints = [endpoint for endpoint in endpoints if event in (endpoint.events or ())]
    if not endpoints:
        return []
    now, event_id = utcnow(), uuid.uuid4()
    payload = _envelope(event, event_id, data, now)
    rows = [
        WebhookDelivery(
            endpoint_id=endpoint.id,
            event=event,
            event_id=event_id,
            payload=payload,
            status="pending",
            next_attempt_at=now,
            created_at=now,
        )  # fmt: skip
        for endpoint in endpoints
    ]
    db.session.add_all(rows)
    db.session.flush()
    _enqueue_after_commit([str(row.id) for row in rows])
    return rows


def send_test(endpoint: WebhookEndpoint, actor) -> WebhookDelivery:
    """A "ping" to the endpoint, active or not: one attempt, no retries, shown in its log."""
    _require_worker(actor, endpoint)
    now, event_id = utcnow(), uuid.uuid4()
    data = {"endpoint_id": str(endpoint.id), "message": "A test event from LeadFlow PM: your endpoint works."}
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id, event=TEST_EVENT, event_id=event_id, payload=_envelope(TEST_EVENT, event_id, data, now),
        status="pending", is_test=True, next_attempt_at=now, created_at=now,
    )  # fmt: skip
    db.session.add(delivery)
    db.session.flush()
    _enqueue_after_commit([str(delivery.id)])
    return delivery


def redeliver(delivery: WebhookDelivery, actor) -> WebhookDelivery:
    """Send the same event (same id and body) again now, with its retries; the earlier attempts stay in the log.
    Refused while an attempt is in flight."""
    _require_worker(actor, delivery.endpoint)
    done = db.session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status != "sending")
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), delivered_at=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(delivery)
    if not done:
        raise DeliveryBusy("This delivery is being sent right now; wait for its answer.")
    audit.record(actor, "webhook.redelivered", delivery.endpoint, after={"event_id": str(delivery.event_id)})
    _enqueue_after_commit([str(delivery.id)])
    return delivery


# --- what the pages read -------------------------------------------------------------------------------------


def endpoints_of(partner) -> list[WebhookEndpoint]:
    stmt = sa.select(WebhookEndpoint).where(WebhookEndpoint.partner_id == partner.id)
    return list(db.session.scalars(stmt.order_by(WebhookEndpoint.created_at)))


def recent_counts(endpoints) -> dict[uuid.UUID, dict[str, int]]:
    """Each endpoint's deliveries of the last STATS_DAYS days by status, in one query."""
    ids = [endpoint.id for endpoint in endpoints]
    if not ids:
        return {}
    since = utcnow() - timedelta(days=STATS_DAYS)
    rows = db.session.execute(
        sa.select(WebhookDelivery.endpoint_id, WebhookDelivery.status, sa.func.count())
        .where(WebhookDelivery.endpoint_id.in_(ids), WebhookDelivery.created_at >= since)
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
    ).all()
    counts = {endpoint_id: {} for endpoint_id in ids}
    for endpoint_id, status, count in rows:
        counts[endpoint_id][status] = count
    return counts


def delivery_log(endpoint: WebhookEndpoint, status: str | None = None, before: datetime | None = None):
    """The endpoint's deliveries, newest first (LOG_PAGE of them, older than `before`), each with its attempts
    (newest first): [(delivery, [attempt, ...]), ...] and whether older ones exist."""
    stmt = sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if before is not None:
        stmt = stmt.where(WebhookDelivery.created_at < before)
    stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(LOG_PAGE + 1)
    deliveries = list(db.session.scalars(stmt))
    more = len(deliveries) > LOG_PAGE
    deliveries = deliveries[:LOG_PAGE]
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        rows = db.session.scalars(
            sa.select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.started_at.desc())
        )
        for attempt in rows:
            attempts[attempt.delivery_id].append(attempt)
    return [(d, attempts[d.id]) for d in deliveries], more
