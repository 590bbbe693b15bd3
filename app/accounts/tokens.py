"""One-time tokens for emailed links (SPEC §9.1): issue, look at without spending, redeem exactly once.

A token is 32 random bytes, URL-safe; only its SHA-256 is stored, so a copy of the database opens no link.
Issuing a token voids the user's older live tokens of the same purpose (the newest email is the one that works).
Redeeming is one conditional UPDATE (`used_at IS NULL AND voided_at IS NULL AND expires_at > now`): atomic on
PostgreSQL and SQLite alike, so of two clicks racing on the same link exactly one wins.
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import OneTimeToken, User
from app.models.base import utcnow
from app.models.tokens import TOKEN_PURPOSES

LIFETIMES = {
    "reset_password": timedelta(hours=1),
    "confirm_email": timedelta(hours=48),
    "set_password": timedelta(days=7),
}
MAX_TOKEN_LENGTH = 100  # what issue() makes is 43 characters; anything much longer is not ours

REASONS = {
    "unknown": "This link is not valid. Check that you copied all of it.",
    "expired": "This link has expired.",
    "used": "This link has already been used.",
    "replaced": "A newer link has been sent since; only the newest one works.",
    "inactive": "This account is not active, so this link cannot be used.",
}


class TokenRefused(Exception):
    """A link that cannot be used; `reason` is a key of REASONS, `user` the link's user when the token is known."""

    def __init__(self, reason: str, user: User | None = None):
        super().__init__(REASONS[reason])
        self.reason, self.user = reason, user


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User, purpose: str, lifetime: timedelta | None = None) -> str:
    """A new token for `user`; the user's older live tokens of this purpose stop working. flush() only."""
    if purpose not in TOKEN_PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    now = utcnow()
    db.session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.voided_at.is_(None),
        )
        .values(voided_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + (lifetime or LIFETIMES[purpose]),
        )
    )
    db.session.flush()
    return token


def _row(token: str, purpose: str) -> OneTimeToken | None:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return db.session.scalar(
        sa.select(OneTimeToken)
        .where(OneTimeToken.token_hash == digest(token), OneTimeToken.purpose == purpose)
        .execution_options(populate_existing=True)
    )


def _refusal(row: OneTimeToken | None, now) -> TokenRefused | None:
    if row is None:
        return TokenRefused("unknown")
    if row.used_at is not None:
        return TokenRefused("used", row.user)
    if row.voided_at is not None:
        return TokenRefused("replaced", row.user)
    if row.expires_at <= now:
        return TokenRefused("expired", row.user)
    return None


def check(token: str, purpose: str) -> User:
    """The user of a live token, without spending it (to show the form a link leads to); else TokenRefused."""
    row = _row(token, purpose)
    refusal = _refusal(row, utcnow())
    if refusal is not None:
        raise refusal
    return row.user


def redeem(token: str, purpose: str) -> User:
    """Spend the token and return its user; TokenRefused (unknown, expired, used, replaced) if it cannot be.

    Single use: the UPDATE only matches a live row, and the database applies it once, so a second click
    (or a concurrent one) finds the row spent. The caller commits with whatever the link does.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenRefused("unknown")
    now = utcnow()
    spent = db.session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.token_hash == digest(token),
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.voided_at.is_(None),
            OneTimeToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    row = _row(token, purpose)
    if spent.rowcount != 1:
        raise _refusal(row, now) or TokenRefused("used", row.user if row else None)
    return row.user
