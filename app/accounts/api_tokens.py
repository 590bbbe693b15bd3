"""User tokens for the API (SPEC 9.5): a short-lived access token and a refresh token that rotates.

POST /api/v1/auth/token (email, password, and a TOTP or recovery code when the user has MFA) starts a family;
each refresh spends its refresh token and issues the next pair in the same family. Using a spent refresh
token again means it was copied: the whole family is revoked, so the thief's and the owner's access tokens
stop working together. Access tokens are signed (no row), name their family and the user's session version,
so a revoked family, a password change or a suspension ends them at once.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload

from app.audit import trail as audit
from app.extensions import db
from app.models import ApiRefreshToken, ApiTokenFamily, User
from app.models.base import utcnow

ACCESS_PREFIX, REFRESH_PREFIX = "lfat_", "lfrt_"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type, not a secret)


class TokenRefused(Exception):
    """The refresh token cannot be used: unknown, expired, spent (its family is then revoked) or revoked."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-access-token")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _access_seconds() -> int:
    return int(current_app.config["API_ACCESS_TOKEN_SECONDS"])


def _pair(user: User, family: ApiTokenFamily) -> TokenPair:
    refresh = f"{REFRESH_PREFIX}{secrets.token_urlsafe(32)}"
    lifetime = timedelta(days=int(current_app.config["API_REFRESH_TOKEN_DAYS"]))
    db.session.add(ApiRefreshToken(family_id=family.id, token_hash=_digest(refresh), expires_at=utcnow() + lifetime))
    claims = {"u": str(user.id), "f": str(family.id), "v": user.session_version}
    access = ACCESS_PREFIX + _serializer().dumps(claims)
    db.session.flush()
    return TokenPair(access, refresh, _access_seconds())


def issue(user: User) -> TokenPair:
    """A new family for `user`, who has just proved who they are (password, and MFA where on)."""
    family = ApiTokenFamily(user_id=user.id)
    db.session.add(family)
    db.session.flush()
    audit.record(user, "api_token.issued", ("users", user.id), after={"family": str(family.id)})
    return _pair(user, family)


def refresh(token: str) -> TokenPair:
    """Spend `token` and issue the next pair. Raises TokenRefused; a reused token revokes its family first
    (committed by the caller even though the request is refused)."""
    row = db.session.scalar(sa.select(ApiRefreshToken).where(ApiRefreshToken.token_hash == _digest(token or "")))
    if row is None or row.expires_at < utcnow() or row.family.revoked_at is not None:
        raise TokenRefused("The refresh token is not valid.")
    spent = db.session.execute(
        sa.update(ApiRefreshToken)
        .where(ApiRefreshToken.id == row.id, ApiRefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    user = db.session.get(User, row.family.user_id)
    if spent.rowcount != 1:
        revoke_family(row.family, "refresh_token_reused")
        raise TokenRefused("The refresh token was already used; every token of this sign-in is now revoked.")
    if user is None or user.status != "active" or not user.is_active:
        raise TokenRefused("The account is not active.")
    return _pair(user, row.family)


def revoke(token: str) -> None:
    """Sign out: revoke the family of `token`, if it is one of ours."""
    row = db.session.scalar(sa.select(ApiRefreshToken).where(ApiRefreshToken.token_hash == _digest(token or "")))
    if row is not None:
        revoke_family(row.family, "signed_out")


def revoke_family(family: ApiTokenFamily, reason: str) -> None:
    db.session.execute(
        sa.update(ApiTokenFamily)
        .where(ApiTokenFamily.id == family.id, ApiTokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    audit.record(None, "api_token.family_revoked", ("users", family.user_id), after={"reason": reason})


def user_for(access_token: str) -> tuple[User, uuid.UUID] | None:
    """The user (and family id) an access token stands for, or None: bad signature, expired, the family revoked,
    or the user's session version moved on (password changed, suspended)."""
    if not access_token.startswith(ACCESS_PREFIX):
        return None
    try:
        claims = _serializer().loads(access_token[len(ACCESS_PREFIX) :], max_age=_access_seconds())
        user_id, family_id = uuid.UUID(claims["u"]), uuid.UUID(claims["f"])
    except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError):
        return None
    found = db.session.execute(
        sa.select(User, ApiTokenFamily.revoked_at)
        .join(ApiTokenFamily, ApiTokenFamily.user_id == User.id)
        .where(User.id == user_id, ApiTokenFamily.id == family_id)
        .options(joinedload(User.membership))  # every request checks it: in the same statement
    ).one_or_none()
    if found is None or found[1] is not None or found[0].session_version != claims.get("v"):
        return None
    return found[0], family_id
