"""A real SMTP server for tests (aiosmtpd on a free loopback port) that records what it accepts."""

import asyncio
import email
import socket
import threading
from email import policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """aiosmtpd handler. A message counts only once the server answers 250 (it has accepted it).

    hold_at=N makes the N-th DATA wait (the client is then inside the SMTP conversation, its message
    not yet accepted) until `release` is set; that message is then refused with 451, as a server
    does when the client is gone before it could accept.
    """

    def __init__(self, hold_at: int | None = None):
        self.messages: list[email.message.EmailMessage] = []
        self.data_seen = 0
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.data_seen += 1
            seen = self.data_seen
        if self.hold_at is not None and seen == self.hold_at:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
            return "451 4.3.0 Connection lost before the message was accepted"
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


class SmtpServer:
    def __init__(self, recorder: Recorder | None = None):
        self.recorder = recorder or Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.recorder.release.set()
        self.controller.stop()

    def config(self) -> dict:
        return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port}

    def env(self) -> dict:
        return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(self.port)}
