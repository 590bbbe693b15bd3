"""Posting one webhook safely (SPEC 9.5): the URL rules, the address check, the signature, one pinned POST.

A partner's URL is checked when it is saved AND every time it is posted to: its host is resolved
(socket.getaddrinfo) and every address it resolves to must be public — not private, loopback, link-local,
multicast, reserved, unspecified or otherwise not global — unless WEBHOOK_ALLOW_PRIVATE is on (tests, a private
deployment). The POST then connects to the very address that was checked, never resolving the name again, so a
DNS answer that changes in between (rebinding) cannot point it inside; the name is kept for the Host header and
for TLS (SNI and the certificate check). Redirects are never followed: a 3xx answer is a failed attempt.
"""

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

SIGNATURE_HEADER = "X-LeadFlow-Signature"
EVENT_HEADER = "X-LeadFlow-Event"
DELIVERY_HEADER = "X-LeadFlow-Delivery"
USER_AGENT = "LeadFlow-Webhooks/1.0"
MAX_URL = 500


class UnsafeUrl(ValueError):
    """The URL may not be posted to; the message says why and is safe to show to the partner."""


@dataclass(frozen=True)
class Target:
    """Where one POST goes: the name (Host header, TLS) and the checked address it connects to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Answer:
    """What one POST got: the status code (None when no answer came), how long it took, what went wrong."""

    status: int | None
    duration_ms: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def private_allowed() -> bool:
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE"))


def check_url(url: str):
    """The URL split into its parts, or UnsafeUrl: https (http only where private addresses are allowed), a host,
    no user name or password in it."""
    if not url or len(url) > MAX_URL:
        raise UnsafeUrl(f"Enter a URL of up to {MAX_URL} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("That is not a valid URL.") from exc
    schemes = ("https", "http") if private_allowed() else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("Use an https:// URL.")
    if not parts.hostname:
        raise UnsafeUrl("The URL needs a host name, such as https://crm.example.com/hooks/leadflow.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Leave the user name and password out of the URL: the signature authenticates us.")
    if port == 0 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeUrl("That is not a valid URL.")
    return parts


def _not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.version == 6 and address.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve(url: str) -> Target:
    """Check the URL and resolve its host; every address must pass (one bad address refuses the URL, so a name
    that answers with a public and a private address cannot be used to reach the private one)."""
    parts = check_url(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"{parts.hostname} could not be resolved.") from exc
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in found))
    if not addresses:
        raise UnsafeUrl(f"{parts.hostname} could not be resolved.")
    if not private_allowed() and any(_not_public(ipaddress.ip_address(a)) for a in addresses):
        raise UnsafeUrl(
            f"{parts.hostname} resolves to a private, loopback or reserved address: webhooks go to public addresses only."
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The X-LeadFlow-Signature value: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_headers(secret: str, body: bytes, event: str, event_id, timestamp: int | None = None) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(event_id),
        SIGNATURE_HEADER: signature(secret, body, int(time.time()) if timestamp is None else timestamp),
    }


def tls_context() -> ssl.SSLContext:
    """The system's trust store, hostname checked (a test trusts its own certificate here)."""
    return ssl.create_default_context()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; the host name goes in the Host header."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked address; TLS is spoken to the host name (SNI, certificate)."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=tls_context())
        self.address = target.address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict, timeout: float) -> Answer:
    """One POST: resolve and check the URL now, connect to that address, read the status line, never follow a
    redirect. Never raises for what the receiver or the network does: the Answer says it."""
    started = time.monotonic()
    status, error = None, None
    try:
        target = resolve(url)
        kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        connection = kind(target, timeout)
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            status = connection.getresponse().status
        finally:
            connection.close()
    except UnsafeUrl as exc:
        error = f"Refused: {exc}"
    except (OSError, http.client.HTTPException, ValueError) as exc:  # timeouts and TLS errors are OSErrors
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration = int((time.monotonic() - started) * 1000)
    if status is not None and not 200 <= status < 300:
        error = f"The receiver answered {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return Answer(status, duration, error[:500] if error else None)
