"""Calling the API in tests as an integrator does: with an API key or a user's access token, never a cookie."""

from app.accounts import api_keys, api_tokens
from app.extensions import db
from app.models.api import SCOPES


def key_for(user, scopes=None, *, partner=None, actor=None, name="test key") -> str:
    """A new API key acting for `user` (a partner member; staff issue one for a partner with `actor`)."""
    issuer = actor or user
    _key, secret = api_keys.create(issuer, name, scopes or [s for s in SCOPES if s != "leads:trusted"], partner=partner)
    db.session.commit()
    return secret


def token_for(user) -> str:
    """An access token for `user`, as POST /api/v1/auth/token gives after the password (and MFA) step."""
    pair = api_tokens.issue(user)
    db.session.commit()
    return pair.access_token


def key_headers(secret: str, **extra) -> dict:
    return {"X-API-Key": secret, **extra}


def bearer(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **extra}
