"""Rate limits of public pages (the request form): the login throttle's counters under other key prefixes.

app/accounts/throttle.LoginThrottle holds the storage (Redis from RATELIMIT_STORAGE_URI or REDIS_URL, this
process's memory behind it when Redis is unreachable); app/accounts/limits does the same for sign-up and reset.
What this module adds: buckets named by any prefix, a keyed digest for values that must not sit in the
counter store (email addresses), and the 429 answer with Retry-After rendered from a template of the caller's.
"""

import hashlib

from flask import current_app, make_response, render_template, request

from app.accounts.throttle import Verdict, login_throttle
from app.web import is_htmx_partial


def digest(value: str) -> str:
    """A keyed digest of `value`: the counter store never holds the value itself."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hashlib.blake2b(value.encode(), key=secret[:64], digest_size=16).hexdigest()


def hit(*buckets: tuple[str, str]) -> Verdict:
    """Take one unit from each (limit text, key) bucket; refused when one of them is full."""
    return login_throttle().attempt(list(buckets))


def address_bucket(config_key: str, prefix: str) -> tuple[str, str]:
    """The bucket of this client address (request.remote_addr: ProxyFix sets it only behind trusted proxies)."""
    return current_app.config[config_key], f"{prefix}:address:{request.remote_addr}"


def value_bucket(config_key: str, prefix: str, value: str) -> tuple[str, str]:
    return current_app.config[config_key], f"{prefix}:value:{digest(value)}"


def too_many(verdict: Verdict, template: str, partial: str | None = None, **context):
    """The 429 answer: the page (or its partial for HTMX) says when to try again; Retry-After says it too."""
    minutes = max(1, round(verdict.retry_after / 60))
    wait = f"about {minutes} minute{'s' if minutes != 1 else ''}"
    chosen = partial if partial and is_htmx_partial() else template
    response = make_response(render_template(chosen, wait=wait, status=429, **context), 429)
    response.headers["Retry-After"] = str(verdict.retry_after)
    response.vary.add("HX-Request")
    return response
