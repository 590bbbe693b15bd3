"""Demo integrations (SPEC 9.5): a trusted supplier's API key with a known secret (the README's curl example uses
it), a partner's own keys (one revoked), a webhook endpoint with a delivery log (delivered, retrying and failed
deliveries; the failed one's notice to the owners and managers), and a partner member who gets text messages.
Created once (found by name)."""

import uuid
from datetime import timedelta

import sqlalchemy as sa

from app.accounts import api_keys
from app.comms import webhooks
from app.extensions import db
from app.jobs import webhooks as webhook_jobs
from app.models import ApiKey, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow

# Demo data only (seed-demo refuses to run in production): the README's supplier example posts with it.
DEMO_SUPPLIER_KEY = "lf_demo-supplier-key-for-local-use-only"
SUPPLIER_KEY_NAME = "Demo supplier feed"
WEBHOOK_URL = "https://crm.northwind.example/hooks/leadflow"


def _user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def seed() -> None:
    admin, owner, supplier = _user("admin@demo.test"), _user("cp1@demo.test"), _user("cp2@demo.test")
    if None in (admin, owner, supplier) or owner.partner is None or supplier.partner is None:
        return
    if db.session.scalar(sa.select(ApiKey.id).where(ApiKey.name == SUPPLIER_KEY_NAME)) is not None:
        return
    key, _secret = api_keys.create(
        admin, SUPPLIER_KEY_NAME, ["leads:read", "leads:write", "leads:trusted", "catalog:read"], supplier.partner
    )
    key.key_hash, key.prefix = api_keys.digest(DEMO_SUPPLIER_KEY), DEMO_SUPPLIER_KEY[:11]
    api_keys.create(owner, "CRM sync", ["leads:read", "leads:write", "catalog:read"])
    old, _secret = api_keys.create(owner, "Old spreadsheet script", ["leads:read"])
    api_keys.revoke(old, owner)
    _webhook(owner)
    owner.phone, owner.sms_opt_in, owner.sms_events = "+14155550100", True, ["lead_assigned", "commission_settled"]
    db.session.flush()


def _webhook(owner: User) -> None:
    """An endpoint on a CRM host (demo data: not resolvable here, so it is written directly, not through the
    URL check) and a log that shows each state a delivery can be in."""
    endpoint = WebhookEndpoint(
        partner_id=owner.partner.id,
        url=WEBHOOK_URL,
        description="Northwind CRM",
        events=sorted(webhooks.WEBHOOK_EVENTS),
        secret=webhooks.new_secret(),
        created_by=owner.id,
    )
    db.session.add(endpoint)
    db.session.flush()
    now = utcnow()
    history = (
        ("lead.assigned", "delivered", [(200, 143, None)], timedelta(hours=26)),
        ("lead.stage_changed", "delivered", [(503, 2010, None), (200, 96, None)], timedelta(hours=5)),
        ("commission.settled", "failed", [(500, 88, None)] * 3 + [(None, 10000, "timed out")] * 3,
         timedelta(days=2)),
        ("lead.stage_changed", "pending", [(None, 10000, "connection refused")], timedelta(minutes=20)),
    )  # fmt: skip
    for event, status, attempts, ago in history:
        created = now - ago
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            event=event,
            event_id=uuid.uuid4(),
            payload={"type": event, "data": {"demo": True}},
            status=status,
            attempts=len(attempts),
            created_at=created,
            delivered_at=created + timedelta(minutes=3) if status == "delivered" else None,
            next_attempt_at=now + timedelta(minutes=10) if status == "pending" else None,
            response_code=attempts[-1][0],
            last_error=attempts[-1][2],
        )
        db.session.add(delivery)
        db.session.flush()
        for number, (code, duration, error) in enumerate(attempts):
            db.session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    started_at=created + timedelta(minutes=number),
                    response_code=code,
                    duration_ms=duration,
                    error=error,
                )
            )
        if status == "failed":
            webhook_jobs.tell_failed(delivery)  # its owners and managers were told
