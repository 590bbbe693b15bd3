"""A local stub of Twilio's Messages API over HTTP: the real twilio client talks to it (TWILIO_API_BASE), and the
inbound-SMS webhook's signature, made as Twilio makes it."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token"
FROM_NUMBER = "+15005550006"
WEBHOOK_URL = "http://localhost/webhooks/twilio/sms"  # what the test client's requests see as request.url


class TwilioStub(BaseHTTPRequestHandler):
    """Answers POST /2010-04-01/Accounts/<sid>/Messages.json like Twilio: 201 with the message, or the error set in
    `fail_with` (a Twilio error code, e.g. 21610 for an unsubscribed recipient)."""

    requests: list[dict] = []
    fail_with: int | None = None
    lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.requests, cls.fail_with = [], None

    def log_message(self, *args):  # keep the test output quiet
        pass

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0) or 0)
        fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        with TwilioStub.lock:
            TwilioStub.requests.append({"path": self.path, "fields": fields, "auth": self.headers.get("Authorization")})
        if not self.path.endswith(f"/Accounts/{ACCOUNT_SID}/Messages.json"):
            return self._answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        if TwilioStub.fail_with is not None:
            code = TwilioStub.fail_with
            return self._answer(400, {"code": code, "message": f"Twilio error {code}", "status": 400})
        sid = "SM" + uuid.uuid4().hex
        self._answer(
            201,
            {"sid": sid, "account_sid": ACCOUNT_SID, "to": fields.get("To"), "from": fields.get("From"),
             "body": fields.get("Body"), "status": "queued", "num_segments": "1"},
        )  # fmt: skip


@pytest.fixture
def twilio_stub(app):
    """The app sends texts through Twilio's client to the stub; yields the stub class (its `requests`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), TwilioStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    TwilioStub.reset()
    names = ("SMS_BACKEND", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_API_BASE")
    saved = {name: app.config[name] for name in names}
    app.config.update(
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER=FROM_NUMBER,
        TWILIO_API_BASE=f"http://127.0.0.1:{server.server_port}",
    )
    yield TwilioStub
    app.config.update(saved)
    server.shutdown()
    server.server_close()


def signed(fields: dict, url: str = WEBHOOK_URL, token: str = AUTH_TOKEN) -> dict:
    """The X-Twilio-Signature header Twilio sends with these form fields to this URL."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, fields)}
