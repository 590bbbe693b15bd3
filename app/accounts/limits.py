"""Rate limits of the endpoints that send email or create accounts (issue 17, item 8).

They use the login throttle's counters (app/accounts/throttle: Redis, with this process's memory behind it), each
under its own key prefix. The client address is request.remote_addr, which ProxyFix sets from X-Forwarded-For
only when TRUSTED_PROXIES says how many proxies to believe; without it the header is ignored.
"""

import hashlib

from flask import current_app, make_response, render_template, request

from app.accounts.operations import normalise_email
from app.accounts.throttle import Verdict, login_throttle
from app.web import is_htmx_partial


def _email_key(email: str) -> str:
    """Addresses are not stored in the counter store, only a keyed digest of them."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hashlib.blake2b(normalise_email(email).encode(), key=secret[:64], digest_size=16).hexdigest()


def signup() -> Verdict:
    return login_throttle().attempt(
        [(current_app.config["SIGNUP_RATE_LIMIT"], f"signup:address:{request.remote_addr}")]
    )


def reset_request(email: str) -> Verdict:
    limit = current_app.config["RESET_RATE_LIMIT"]
    return login_throttle().attempt(
        [(limit, f"reset:address:{request.remote_addr}"), (limit, f"reset:email:{_email_key(email)}")]
    )


def confirmation_resend(user) -> Verdict:
    return login_throttle().attempt([(current_app.config["CONFIRM_RESEND_RATE_LIMIT"], f"confirm-resend:{user.id}")])


def staff_invite(actor) -> Verdict:
    return login_throttle().attempt([(current_app.config["STAFF_INVITE_RATE_LIMIT"], f"staff-invite:{actor.id}")])


def too_many(verdict: Verdict, what: str):
    """The 429 answer (a page, or a message for HTMX): what was refused and when to try again, also in Retry-After."""
    minutes = max(1, round(verdict.retry_after / 60))
    title = f"Too many {what}. Please try again in about {minutes} minute{'s' if minutes != 1 else ''}."
    template = "errors/_message.html" if is_htmx_partial() else "errors/generic.html"
    response = make_response(render_template(template, status=429, title=title), 429)
    response.headers["Retry-After"] = str(verdict.retry_after)
    return response


def member_invite(actor) -> Verdict:
    """A partner owner's invitations (the same allowance as staff invitations)."""
    return login_throttle().attempt([(current_app.config["STAFF_INVITE_RATE_LIMIT"], f"member-invite:{actor.id}")])
