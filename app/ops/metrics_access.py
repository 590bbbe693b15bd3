"""Who may scrape /metrics: a client network (METRICS_ALLOW_NETWORKS) and, when set, a bearer token (METRICS_TOKEN).

Defaults: with no token, loopback only (a Prometheus or agent on the same machine); with a token, any address that
presents it. METRICS_ALLOW_NETWORKS (comma-separated CIDRs) replaces that default; with a token both must pass.
A browser session admits nothing, whatever its role: metrics are read by machines, and a cookie is not a credential
a scraper should hold. A request that came through a reverse proxy that is not trusted (TRUSTED_PROXIES=0) carries
the proxy's address, not the client's, so only an allow-list of every address admits it.
"""

import hmac
import ipaddress
from functools import lru_cache

from flask import Response, current_app, request

LOOPBACK = ("127.0.0.0/8", "::1/128")
ANYWHERE = ("0.0.0.0/0", "::/0")
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


@lru_cache(maxsize=8)
def allowed_networks(setting: str | None, has_token: bool) -> tuple:
    """The networks that may scrape; a malformed CIDR raises ValueError (checked when the app starts)."""
    cidrs = [part.strip() for part in setting.split(",") if part.strip()] if setting else None
    if not cidrs:
        cidrs = ANYWHERE if has_token else LOOPBACK
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def check_settings(app) -> None:
    """At start-up: a typo in METRICS_ALLOW_NETWORKS stops the app with one sentence, not every scrape with a 500."""
    from app.production import ConfigurationError

    try:
        allowed_networks(app.config.get("METRICS_ALLOW_NETWORKS"), bool(app.config.get("METRICS_TOKEN")))
    except ValueError as exc:
        raise ConfigurationError(f"METRICS_ALLOW_NETWORKS: {exc}") from None


def _address_allowed(networks: tuple) -> bool:
    if all(net.prefixlen == 0 for net in networks):
        return True  # an allow-list of everything: nothing to check
    if not current_app.config["TRUSTED_PROXIES"] and any(h in request.headers for h in _PROXY_HEADERS):
        return False  # remote_addr is the proxy's: the client behind it is unknown
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in net for net in networks)


def _token_ok(token: str) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def refusal() -> Response | None:
    """None when this request may scrape; otherwise the plain-text refusal (403 network, 401 token)."""
    token = current_app.config.get("METRICS_TOKEN")
    if not _address_allowed(allowed_networks(current_app.config.get("METRICS_ALLOW_NETWORKS"), bool(token))):
        return Response("metrics: this address may not scrape\n", status=403, content_type="text/plain")
    if token and not _token_ok(token):
        return Response(
            "metrics: a bearer token is required\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return None
