"""Twilio's REST client for SMS_BACKEND=twilio, built from the configuration (imported only where a text is sent:
its HTTP stack is a few MB that page workers do not need)."""

from flask import current_app
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
TIMEOUT_SECONDS = 15


class _LocalTwilioHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, pointed at TWILIO_API_BASE instead of https://api.twilio.com (a local stub)."""

    def __init__(self, base: str, **kwargs):
        super().__init__(**kwargs)
        self.base = base.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def twilio_client() -> Client:
    cfg = current_app.config
    if not (cfg["TWILIO_ACCOUNT_SID"] and cfg["TWILIO_AUTH_TOKEN"] and cfg["TWILIO_FROM_NUMBER"]):
        raise RuntimeError("SMS_BACKEND is twilio: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER")
    base = cfg.get("TWILIO_API_BASE")
    http = _LocalTwilioHttpClient(base, timeout=TIMEOUT_SECONDS) if base else TwilioHttpClient(timeout=TIMEOUT_SECONDS)
    return Client(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"], http_client=http)
