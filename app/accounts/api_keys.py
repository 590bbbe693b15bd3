"""API keys (SPEC 9.5): issued to a partner's member or, by staff, to a supplier partner; shown once, stored as a
SHA-256, scoped, revocable at once, with the time of their last use. The pages (/cp/integrations, /admin/api-keys)
and the API's authentication both go through here."""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from app.access import OWNER, WORKERS
from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.models import ApiKey, ChannelPartner, PartnerMember, User
from app.models.api import SCOPES, STAFF_ONLY_SCOPES
from app.models.base import utcnow
from app.models.users import display_name

PREFIX = "lf_"
# last_used_at is written at most this often per key, so a busy key does not write on every request.
TOUCH_EVERY = timedelta(minutes=1)
MAX_KEYS_PER_PARTNER = 25


class ApiKeyError(Refused):
    status = 422


class ApiKeyMissing(Refused):
    """A key the actor may not see is reported missing, as the pages' loaders do."""

    status = 404


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def offered_scopes(actor: User) -> dict[str, str]:
    """The scopes `actor` may grant, with their descriptions: staff every one, a partner's member all but the
    staff-only ones (the trusted-supplier scope)."""
    return {scope: text for scope, text in SCOPES.items() if actor.is_staff or scope not in STAFF_ONLY_SCOPES}


def _clean_scopes(scopes, actor: User) -> list[str]:
    chosen = sorted(set(scopes or []))
    unknown = [scope for scope in chosen if scope not in SCOPES]
    if unknown or not chosen:
        raise ApiKeyError("Choose at least one scope from the list.", "scopes")
    if not actor.is_staff and any(scope in STAFF_ONLY_SCOPES for scope in chosen):
        raise ApiKeyError("Only staff grant a key the trusted-supplier scope.", "scopes")
    return chosen


def _acting_user(partner) -> User:
    """Who a staff-issued supplier key acts for: the partner's first active owner."""
    user = db.session.scalar(
        sa.select(User)
        .join(PartnerMember, PartnerMember.user_id == User.id)
        .where(PartnerMember.partner_id == partner.id, PartnerMember.role == OWNER, PartnerMember.status == "active")
        .order_by(PartnerMember.created_at)
        .limit(1)
    )
    if user is None:
        raise ApiKeyError("This partner has no active owner for the key to act for.", "partner")
    return user


def create(actor: User, name: str, scopes, partner=None) -> tuple[ApiKey, str]:
    """A new key for `partner` (a CP's own, or any partner for staff). Returns the row and the secret, which is
    shown once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ApiKeyError("Name the key (up to 80 characters) so you can tell it apart later.", "name")
    if actor.is_cp:
        partner = actor.partner
        if actor.member_role not in WORKERS:
            raise Refused("Only owners and managers create API keys.")
    if partner is None:
        raise ApiKeyError("Choose the partner the key is for.", "partner")
    live = db.session.scalar(
        sa.select(sa.func.count()).where(ApiKey.partner_id == partner.id, ApiKey.revoked_at.is_(None))
    )
    if live >= MAX_KEYS_PER_PARTNER:
        raise Refused(f"A partner may hold {MAX_KEYS_PER_PARTNER} live keys; revoke one first.")
    scopes = _clean_scopes(scopes, actor)
    user = actor if actor.is_cp else _acting_user(partner)
    body = secrets.token_urlsafe(32)
    secret = f"{PREFIX}{body}"
    key = ApiKey(
        name=name,
        prefix=secret[:11],
        key_hash=digest(secret),
        scopes=scopes,
        partner_id=partner.id,
        user_id=user.id,
        created_by=actor.id,
    )
    db.session.add(key)
    db.session.flush()
    audit.record(actor, "api_key.created", key, after={"name": name, "scopes": scopes, "partner": str(partner.id)})
    return key, secret


def revoke(key: ApiKey, actor: User) -> bool:
    """Revoke a key; the next request with it is refused. False when it was revoked already.
    Staff revoke any key; a partner's owners and managers their partner's keys."""
    if not may_see(actor, key):
        raise ApiKeyMissing("No such API key.")
    if actor.is_cp and actor.member_role not in WORKERS:
        raise Refused("Only owners and managers revoke API keys.")
    result = db.session.execute(
        sa.update(ApiKey)
        .where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=actor.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(key)
    if result.rowcount:
        audit.record(actor, "api_key.revoked", key, after={"name": key.name})
    return bool(result.rowcount)


def find(secret: str) -> ApiKey | None:
    """The live key whose secret this is, or None."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    # The user it acts for and their membership come in the same statement: every request checks both.
    key = db.session.scalar(
        sa.select(ApiKey)
        .options(joinedload(ApiKey.user).joinedload(User.membership))
        .where(ApiKey.key_hash == digest(secret))
    )
    if key is None or key.revoked_at is not None:
        return None
    return key


def touch(key: ApiKey) -> None:
    """Record the use, at most once per TOUCH_EVERY (a conditional UPDATE, so concurrent requests write once).
    Committed at once: it runs before the request does anything else, and a read-only request never commits."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return
    db.session.execute(
        sa.update(ApiKey)
        .where(ApiKey.id == key.id, sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_EVERY))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# --- reading, for the pages ---------------------------------------------------------------------------


def may_see(actor: User, key: ApiKey) -> bool:
    """Staff see every key; a partner's members their partner's keys."""
    if actor.is_staff:
        return True
    partner = actor.partner
    return partner is not None and key.partner_id == partner.id


def visible_key(actor: User, key_id) -> ApiKey | None:
    """The key with this id if `actor` may see it (else None: the page answers 404, as for a missing one)."""
    key = db.session.get(ApiKey, key_id)
    return key if key is not None and may_see(actor, key) else None


def _listing(stmt):
    return (
        stmt.options(selectinload(ApiKey.partner), selectinload(ApiKey.user))
        # Live keys first, newest first; the id breaks ties so pages never repeat or skip a key.
        .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
    )


def keys_for(partner=None) -> list[ApiKey]:
    """A partner's keys (or every key, for staff), live ones first, newest first."""
    stmt = sa.select(ApiKey)
    if partner is not None:
        stmt = stmt.where(ApiKey.partner_id == partner.id)
    return list(db.session.scalars(_listing(stmt).limit(500)))


def page_of_keys(partner_id=None, page: int = 1, per_page: int = 50):
    """One page of every key (staff), optionally of one partner."""
    stmt = sa.select(ApiKey)
    if partner_id is not None:
        stmt = stmt.where(ApiKey.partner_id == partner_id)
    return db.paginate(_listing(stmt), page=max(page, 1), per_page=per_page, error_out=False)


def creator_names(keys) -> dict:
    """{user id: display name} of the people who created `keys`, in one query."""
    ids = {key.created_by for key in keys if key.created_by is not None}
    if not ids:
        return {}
    rows = db.session.execute(sa.select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {row.id: display_name(row.name, row.email) for row in rows}


def partners_with_keys() -> list[sa.Row]:
    """(id, company_name) of each partner holding at least one key, for the staff page's filter."""
    has_key = sa.select(ApiKey.id).where(ApiKey.partner_id == ChannelPartner.id).exists()
    stmt = sa.select(ChannelPartner.id, ChannelPartner.company_name).where(has_key)
    return list(db.session.execute(stmt.order_by(ChannelPartner.company_name)))


def issuable_partners() -> list[sa.Row]:
    """(id, company_name) of the approved partners staff may issue a supplier key to."""
    stmt = sa.select(ChannelPartner.id, ChannelPartner.company_name).where(ChannelPartner.status == "approved")
    return list(db.session.execute(stmt.order_by(ChannelPartner.company_name)))
