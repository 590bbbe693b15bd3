"""A local webhook receiver for the tests: http.server in a thread that checks every call's signature with the
five-line recipe the README and the webhook page show (app.comms.webhooks.VERIFY_RECIPE, run as it stands)."""

import contextlib
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.comms.webhooks import VERIFY_RECIPE


def recipe_verify():
    """The `verify` function of the documented recipe, exactly as a partner would paste it."""
    namespace: dict = {}
    exec(compile(VERIFY_RECIPE, "<README recipe>", "exec"), namespace)  # noqa: S102 (our own constant: the point is to run the documented text)
    return namespace["verify"]


verify = recipe_verify()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Call:
    """One request the receiver read: what came, whether its signature verified, what it was answered."""

    path: str
    host: str
    event: str
    delivery: str
    signature: str
    body: bytes
    verified: bool
    answered: int | None = None

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the handler does and what it saw. `secret` is what it verifies with (`secrets` per path, for several
    endpoints); `status` what it answers; `hold_at` the number of the call (1-based) it holds, unanswered, until
    `release` is set, then drops."""

    secret: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    status: int = 200
    location: str | None = None
    hold_at: int | None = None
    calls: list[Call] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> list[Call]:
        """The calls answered 2xx: the deliveries the receiver took."""
        return [c for c in self.calls if c.answered is not None and 200 <= c.answered < 300]

    def take(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        signature = handler.headers.get("X-LeadFlow-Signature") or ""
        call = Call(
            path=handler.path,
            host=handler.headers.get("Host") or "",
            event=handler.headers.get("X-LeadFlow-Event") or "",
            delivery=handler.headers.get("X-LeadFlow-Delivery") or "",
            signature=signature,
            body=body,
            verified=bool(signature) and verify(self.secrets.get(handler.path, self.secret), body, signature),
        )
        with self.lock:
            self.calls.append(call)
            number = len(self.calls)
        if self.hold_at is not None and number == self.hold_at:
            self.holding.set()
            self.release.wait(120)
            handler.close_connection = True
            return  # dropped without an answer: the sender was killed meanwhile
        handler.send_response(self.status)
        if self.location:
            handler.send_header("Location", self.location)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")
        call.answered = self.status


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        self.server.receiver.take(self)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def receiving(receiver: Receiver | None = None, port: int = 0, tls: ssl.SSLContext | None = None):
    """Serve on 127.0.0.1 (a free port unless given) until the block ends; yields (receiver, port)."""
    receiver = receiver or Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.receiver = receiver
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, server.server_address[1]
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


def self_signed(host: str, directory) -> tuple[str, str]:
    """A certificate for `host` (and its key), as PEM files in `directory`: (cert path, key path)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{host}.pem", directory / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)
