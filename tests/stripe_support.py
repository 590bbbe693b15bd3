"""A local stub of the Stripe API over HTTP (the real stripe client talks to it) and signed webhook deliveries.

The stub answers what this app calls: create, expire and retrieve a Checkout Session, and create a Refund.
It keeps each session's state (open → complete | expired) as Stripe does; a test marks a session paid with
`StripeStub.pay(session_id)`. Refunds honour the Idempotency-Key header, so a repeated key gets the same refund.
"""

import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa
import stripe

from app.extensions import db
from app.models import CpPayment
from tests import factories
from tests.conftest import login
from tests.world_parts.w30_commissions import won_transaction

SECRET = "whsec_test_secret"


class StripeStub(BaseHTTPRequestHandler):
    """Answers like Stripe does; remembers each request (method, path, form fields, auth, idempotency key)."""

    requests: list[dict] = []
    sessions: dict[str, dict] = {}
    refunds: dict[str, dict] = {}  # by idempotency key
    fail = False  # every call answers 500
    fail_refunds = False  # refunds answer 402 (card_error), the rest works
    lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.requests, cls.sessions, cls.refunds = [], {}, {}
        cls.fail = cls.fail_refunds = False

    @classmethod
    def pay(cls, session_id: str) -> None:
        cls.sessions[session_id]["status"] = "complete"

    @classmethod
    def calls(cls, method: str, prefix: str) -> list[dict]:
        return [r for r in cls.requests if r["method"] == method and r["path"].startswith(prefix)]

    def _answer(self, payload: dict, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str) -> None:
        self._answer({"error": {"type": kind, "message": message}}, status)

    def _remember(self, method: str) -> dict:
        length = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(length).decode() if length else ""
        request = {
            "method": method,
            "path": self.path.split("?")[0],
            "fields": {k: v[0] for k, v in parse_qs(body).items()},
            "auth": self.headers.get("Authorization"),
            "idempotency_key": self.headers.get("Idempotency-Key"),
        }
        StripeStub.requests.append(request)
        return request

    def do_GET(self):
        request = self._remember("GET")
        session = StripeStub.sessions.get(request["path"].rsplit("/", 1)[-1])
        if StripeStub.fail:
            return self._error(500, "api_error", "stub failure")
        if not request["path"].startswith("/v1/checkout/sessions/") or session is None:
            return self._error(404, "invalid_request_error", "No such checkout.session")
        return self._answer(session)

    def do_POST(self):
        request = self._remember("POST")
        path, fields = request["path"], request["fields"]
        if StripeStub.fail:
            return self._error(500, "api_error", "stub failure")
        with StripeStub.lock:
            if path == "/v1/checkout/sessions":
                session_id = f"cs_test_{uuid.uuid4().hex[:12]}"
                session = {
                    "id": session_id,
                    "object": "checkout.session",
                    "status": "open",
                    "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                    "payment_status": "unpaid",
                    "metadata": {"payment_id": fields.get("metadata[payment_id]")},
                }
                StripeStub.sessions[session_id] = session
                return self._answer(session)
            if path.startswith("/v1/checkout/sessions/") and path.endswith("/expire"):
                session = StripeStub.sessions.get(path.split("/")[-2])
                if session is None:
                    return self._error(404, "invalid_request_error", "No such checkout.session")
                if session["status"] != "open":
                    return self._error(
                        400, "invalid_request_error", "Only Checkout Sessions with a status of `open` can be expired."
                    )
                session["status"] = "expired"
                return self._answer(session)
            if path == "/v1/refunds":
                if StripeStub.fail_refunds:
                    return self._error(402, "card_error", "The refund could not be made.")
                key = request["idempotency_key"] or uuid.uuid4().hex
                refund = StripeStub.refunds.setdefault(
                    key,
                    {
                        "id": f"re_test_{uuid.uuid4().hex[:12]}",
                        "object": "refund",
                        "status": "succeeded",
                        "payment_intent": fields.get("payment_intent"),
                        "metadata": {"payment_id": fields.get("metadata[payment_id]")},
                    },
                )
                return self._answer(refund)
        return self._error(404, "invalid_request_error", f"Unrecognized request URL (POST: {path})")

    def log_message(self, *args):
        pass


@pytest.fixture
def stripe_stub(app, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), StripeStub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    StripeStub.reset()
    monkeypatch.setattr(stripe, "api_base", stripe.api_base)  # restored after the test
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_local")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)
    yield StripeStub
    server.shutdown()
    server.server_close()


@pytest.fixture
def direct(app):
    """A transaction whose client paid the CP directly: the CP owes the $100 platform fee."""
    admin = factories.make_user("admin")
    factories.make_fee_config("percentage", "10")
    partner = factories.make_partner(company="Northwind Solutions")
    tx = won_transaction(partner, admin, "Direct deal", "direct")
    db.session.commit()
    return {"tx_id": tx.id, "cp": partner, "admin": admin}


def payments_of(tx_id) -> list[CpPayment]:
    """The transaction's payments, oldest first."""
    db.session.expire_all()
    stmt = sa.select(CpPayment).where(CpPayment.commission_tx_id == tx_id).order_by(CpPayment.created_at)
    return list(db.session.scalars(stmt))


def pay_card(app, direct):
    """The CP presses "Pay by card" (through the app, as a user does)."""
    return login(app.test_client(), direct["cp"].user).post(f"/cp/commissions/{direct['tx_id']}/pay/card")


def start_checkout(app, direct) -> CpPayment:
    before = {p.id for p in payments_of(direct["tx_id"])}
    response = pay_card(app, direct)
    assert response.status_code == 303 and response.location.startswith("https://checkout.stripe.test/")
    (payment,) = [p for p in payments_of(direct["tx_id"]) if p.id not in before]
    return payment


def signed(payload: str, secret: str = SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header, computed by hand: HMAC-SHA256 of "{t}.{payload}" (scheme v1)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(payment: CpPayment, kind: str = "checkout.session.completed", event_id=None, **session) -> str:
    obj = {
        "id": payment.stripe_checkout_session_id,
        "object": "checkout.session",
        "payment_status": "paid",
        "payment_intent": f"pi_test_{str(payment.id)[:8]}",
        "amount_total": int(payment.amount * 100),
        "metadata": {"payment_id": str(payment.id)},
        **session,
    }
    body = {"id": event_id or f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": kind, "data": {"object": obj}}
    return json.dumps(body)


def deliver(app, payload: str, signature: str | None = None):
    headers = {"Stripe-Signature": signature if signature is not None else signed(payload)}
    return app.test_client().post("/webhooks/stripe", data=payload, headers=headers, content_type="application/json")
