"""A tiny loopback HTTP client: real login through the form (CSRF token scraped), cookies kept by hand."""

import http.client
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
CSRF_META = re.compile(r'name="csrf-token"\s+content="([^"]+)"|"X-CSRFToken":\s*"([^"]+)"')


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Session:
    """One logged-in user: its cookies and CSRF token, ready to be handed to wrk."""

    host: str
    port: int
    cookies: dict = field(default_factory=dict)
    csrf: str = ""

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, body: dict | str | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        sent = {"Cookie": self.cookie_header()} if self.cookies else {}
        if self.csrf and method != "GET":
            sent["X-CSRFToken"] = self.csrf
        sent.update(headers or {})
        data = urlencode(body, doseq=True) if isinstance(body, dict) else body
        if data is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn.request(method, path, body=data, headers=sent)
        raw = conn.getresponse()
        payload = raw.read()
        seconds = time.perf_counter() - started
        self._keep_cookies(raw.headers.get_all("Set-Cookie") or [])
        conn.close()
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, payload, seconds)

    def _keep_cookies(self, set_cookies: list[str]) -> None:
        for line in set_cookies:
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if value and "expires=Thu, 01 Jan 1970" not in line:
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)

    def scrape_csrf(self, html: str) -> str:
        for pattern in (CSRF_META, CSRF_INPUT):
            match = pattern.search(html)
            if match:
                return next(g for g in match.groups() if g)
        return ""

    def login(self, email: str, password: str) -> "Session":
        page = self.request("GET", "/auth/login")
        token = self.scrape_csrf(page.text)
        answer = self.request("POST", "/auth/login", {"csrf_token": token, "email": email, "password": password})
        if answer.status != 302:
            raise RuntimeError(f"login as {email} failed: HTTP {answer.status}")
        home = self.request("GET", answer.headers["location"])
        self.csrf = self.scrape_csrf(home.text) or token
        return self


def wait_until_up(host: str, port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if Session(host, port).request("GET", "/healthz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the app did not answer /healthz in time")
