"""Two-factor authentication with TOTP (RFC 6238) and single-use recovery codes (SPEC §9.1, issue 17 item 7).

Enrolment: `start_enrolment` makes a pending secret, shown once as a QR code and as text; `confirm_enrolment` with
a first code from the app enables it and returns ten recovery codes, shown once and stored only as digests.
At login, `verify_login` takes a code (window ±1 time step; a step already used is refused) or a recovery code
(each works once). Regenerating recovery codes needs a current code; turning MFA off needs the password and a code
and is refused where the user's role requires MFA. Every change is audited; every operation flushes, the caller
commits. Operations that change a user's MFA state lock the user's row first, so two tabs cannot race.
"""

import hashlib
import hmac
import re
import secrets
import time

import pyotp
import sqlalchemy as sa
from flask import current_app

from app.accounts.passwords import verify_password
from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.models import MfaCredential, MfaRecoveryCode, User
from app.models.base import utcnow

ISSUER = "LeadFlow PM"
STEP_SECONDS = 30
RECOVERY_CODES = 10
# 12 characters from 32 unambiguous ones: 60 bits each, so a plain SHA-256 digest is enough to store them.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 12
_TOTP = re.compile(r"\d{6}")

clock = time.time  # tests move time by replacing this


class MfaError(Refused):
    """A refused MFA operation: a wrong code or password (422, beside its field) or the wrong state (409)."""

    def __init__(self, message: str, field: str = "code", status: int = 422):
        super().__init__(message, field)
        self.status = status


# --- reading -------------------------------------------------------------------------------------------------


def credential(user: User) -> MfaCredential | None:
    return db.session.scalar(sa.select(MfaCredential).where(MfaCredential.user_id == user.id))


def is_enabled(user: User) -> bool:
    return (
        db.session.scalar(
            sa.select(MfaCredential.id).where(MfaCredential.user_id == user.id, MfaCredential.enabled_at.is_not(None))
        )
        is not None
    )


def required_for(user: User) -> bool:
    """Admins and super admins must use MFA where MFA_REQUIRED_FOR_STAFF is on (production); partners may."""
    return bool(current_app.config.get("MFA_REQUIRED_FOR_STAFF")) and user.is_staff


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None))
    )


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


# --- enrolment -----------------------------------------------------------------------------------------------


def start_enrolment(user: User) -> MfaCredential:
    """A pending secret for `user` (the one already pending, if any: a second click shows the same QR code)."""
    _lock(user)
    found = credential(user)
    if found is not None and found.enabled:
        raise MfaError("Two-factor authentication is already on.", status=409)
    if found is not None:
        return found
    found = MfaCredential(user_id=user.id, secret=pyotp.random_base32())
    db.session.add(found)
    db.session.flush()
    audit.record(user, "mfa.enrolment_started", ("users", user.id))
    return found


def cancel_enrolment(user: User) -> bool:
    """Forget a pending (unconfirmed) secret; True if there was one."""
    _lock(user)
    found = credential(user)
    if found is None or found.enabled:
        return False
    db.session.delete(found)
    db.session.flush()
    audit.record(user, "mfa.enrolment_cancelled", ("users", user.id))
    return True


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Enable the pending secret with a first code from the app; returns the ten recovery codes (shown once)."""
    _lock(user)
    found = credential(user)
    if found is None:
        raise MfaError("Start the set-up first: no secret is waiting for a code.", status=409)
    if found.enabled:
        raise MfaError("Two-factor authentication is already on.", status=409)
    step = _matching_step(found, code)
    if step is None:
        raise MfaError("That code is not right. Check the time on your phone and enter the current code.")
    found.enabled_at, found.last_used_step = utcnow(), step
    codes = _new_recovery_codes(user)
    audit.record(user, "mfa.enabled", ("users", user.id), after={"recovery_codes": len(codes)})
    return codes


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """Ten new recovery codes for a current code from the app; every earlier code stops working."""
    _lock(user)
    found = _enabled_credential(user)
    if not _claim_step(found, code):
        raise MfaError("That code is not right, or it was already used. Enter the next code from your app.")
    before = recovery_codes_left(user)
    codes = _new_recovery_codes(user)
    audit.record(
        user,
        "mfa.recovery_codes_regenerated",
        ("users", user.id),
        before={"unused_codes": before},
        after={"unused_codes": len(codes)},
    )
    return codes


def disable(user: User, password: str, code: str) -> None:
    """Turn MFA off with the password and a code from the app (or a recovery code); refused where it is required."""
    if required_for(user):
        raise MfaError("Your role requires two-factor authentication, so it cannot be turned off.", status=409)
    _lock(user)
    found = _enabled_credential(user)
    if not verify_password(user.password_hash, password or ""):
        raise MfaError("Your password is not correct.", field="password")
    if not (_claim_step(found, code) or _spend_recovery_code(user, code)):
        raise MfaError("That code is not right, or it was already used.")
    db.session.execute(sa.delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    db.session.delete(found)
    db.session.flush()
    audit.record(user, "mfa.disabled", ("users", user.id), before={"enabled": True}, after={"enabled": False})


def reset(user: User, actor: User | None = None) -> bool:
    """Remove a user's MFA entirely (an operator's command for a lost phone and lost codes); True if there was any."""
    _lock(user)
    found = credential(user)
    if found is None:
        return False
    db.session.execute(sa.delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    db.session.delete(found)
    db.session.flush()
    audit.record(actor, "mfa.reset", ("users", user.id), before={"enabled": found.enabled}, after={"enabled": False})
    return True


# --- the second login step -----------------------------------------------------------------------------------


def verify_login(user: User, code: str) -> str | None:
    """Returns "totp" or "recovery" if `code` passes the second step for `user` (and is spent), else None."""
    found = credential(user)
    if found is None or not found.enabled:
        return None
    if _TOTP.fullmatch(_digits(code)):
        return "totp" if _claim_step(found, code) else None
    if _spend_recovery_code(user, code):
        audit.record(
            user, "mfa.recovery_code_used", ("users", user.id), after={"unused_codes": recovery_codes_left(user)}
        )
        return "recovery"
    return None


def throttle_buckets(user_id, address: str | None) -> list[tuple[str, str]]:
    """The (limit, key) buckets a code attempt counts against: the account's and the client address's."""
    limit = current_app.config["MFA_RATE_LIMIT"]
    return [(limit, f"mfa-account:{user_id}"), (limit, f"mfa-address:{address}")]


# --- inside ----------------------------------------------------------------------------------------------------


def _lock(user: User) -> None:
    """Serialise this user's MFA changes (PostgreSQL row lock; SQLite serialises writers anyway)."""
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())


def _enabled_credential(user: User) -> MfaCredential:
    found = credential(user)
    if found is None or not found.enabled:
        raise MfaError("Two-factor authentication is not on.", status=409)
    return found


def _digits(code: str | None) -> str:
    return re.sub(r"[\s-]", "", code or "")


def _matching_step(found: MfaCredential, code: str) -> int | None:
    """The time step (now, one before or one after) whose code this is, if that step was not used yet."""
    code = _digits(code)
    if not _TOTP.fullmatch(code):
        return None
    totp, now = pyotp.TOTP(found.secret), int(clock() // STEP_SECONDS)
    for step in (now - 1, now, now + 1):
        if found.last_used_step is not None and step <= found.last_used_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_step(found: MfaCredential, code: str) -> bool:
    """Accept a code once: the step is recorded with a conditional update, so a concurrent replay finds it taken."""
    step = _matching_step(found, code)
    if step is None:
        return False
    claimed = db.session.execute(
        sa.update(MfaCredential)
        .where(
            MfaCredential.id == found.id,
            sa.or_(MfaCredential.last_used_step.is_(None), MfaCredential.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(found, ["last_used_step"])
    return claimed == 1


def _normalised_recovery(code: str | None) -> str:
    return _digits(code).lower()


def _recovery_digest(user: User, code: str) -> str:
    return hashlib.sha256(f"{user.id}:{code}".encode()).hexdigest()


def _spend_recovery_code(user: User, code: str) -> bool:
    plain = _normalised_recovery(code)
    if len(plain) != _RECOVERY_LENGTH or not set(plain) <= set(_RECOVERY_ALPHABET):
        return False
    spent = db.session.execute(
        sa.update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user.id,
            MfaRecoveryCode.code_hash == _recovery_digest(user, plain),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return spent == 1


def _new_recovery_codes(user: User) -> list[str]:
    """Replace every recovery code of `user` with ten new ones; the plain codes are returned, only digests kept."""
    db.session.execute(sa.delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    codes = []
    while len(codes) < RECOVERY_CODES:
        plain = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        if plain not in codes:
            codes.append(plain)
    db.session.add_all(MfaRecoveryCode(user_id=user.id, code_hash=_recovery_digest(user, c)) for c in codes)
    db.session.flush()
    return [f"{c[:4]}-{c[4:8]}-{c[8:]}" for c in codes]
