"""A partner's members (owner, manager, viewer): invitations by email or code, roles, deactivation.

Rules: a login belongs to at most one partner; a partner always keeps one active owner; a deactivated member's
sessions end at once. The invitation link's token is made when the email is sent (app/jobs/tasks._context), so
only its SHA-256 is ever stored, and sending again replaces the link.
"""

import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.operations import add_member, find_by_email, normalise_email
from app.accounts.passwords import hash_password
from app.accounts.recovery import end_all_sessions
from app.accounts.tokens import digest
from app.audit import trail as audit
from app.comms import notifications
from app.errors import Refused
from app.extensions import db
from app.models import ChannelPartner, PartnerInvite, PartnerMember, User
from app.models.base import utcnow
from app.models.members import MEMBER_ROLES

INVITE_LIFETIME = timedelta(days=7)
ROLE_LABELS = {"owner": "Owner", "manager": "Manager", "viewer": "Viewer"}
CODE_JOIN_ROLE = "viewer"  # who joins with the shared code starts read-only; the owner can promote them


class MemberError(Refused):
    """A refused change to a partner's members; the message is safe to show."""


def members_statement(partner: ChannelPartner) -> sa.Select:
    """The partner's members with their logins; unordered."""
    return (
        sa.select(PartnerMember)
        .join(User, User.id == PartnerMember.user_id)
        .options(sa.orm.contains_eager(PartnerMember.user))
        .where(PartnerMember.partner_id == partner.id)
    )


def members_of(partner: ChannelPartner) -> list[PartnerMember]:
    stmt = members_statement(partner).order_by(PartnerMember.status, PartnerMember.role, User.email)
    return list(db.session.scalars(stmt))


def active_users(partner: ChannelPartner, roles=MEMBER_ROLES) -> list[User]:
    """Who hears about the partner's leads and money: its active members' active logins."""
    stmt = (
        sa.select(User)
        .join(PartnerMember, PartnerMember.user_id == User.id)
        .where(
            PartnerMember.partner_id == partner.id,
            PartnerMember.status == "active",
            PartnerMember.role.in_(roles),
            User.status == "active",
        )
        .order_by(User.email)
    )
    return list(db.session.scalars(stmt))


def _active_owners(partner_id) -> int:
    stmt = sa.select(sa.func.count()).where(
        PartnerMember.partner_id == partner_id, PartnerMember.role == "owner", PartnerMember.status == "active"
    )
    return db.session.scalar(stmt)


def _lock(member: PartnerMember) -> None:
    """Serialise member changes of one partner (two owners cannot demote each other at once) and read the member
    again under the lock, so a change sent twice at once is made, and audited, once."""
    db.session.execute(sa.select(ChannelPartner.id).where(ChannelPartner.id == member.partner_id).with_for_update())
    db.session.refresh(member, with_for_update=True)


# --- roles and deactivation ---------------------------------------------------------------------


def change_role(member: PartnerMember, role: str, actor: User) -> None:
    if role not in MEMBER_ROLES:
        raise MemberError("Choose owner, manager or viewer.", "role")
    _lock(member)
    if member.role == role:
        return
    if member.role == "owner" and _active_owners(member.partner_id) <= 1:
        raise MemberError("A partner needs an owner: make someone else owner first.", "role")
    before = {"role": member.role}
    member.role = role
    audit.record(actor, "member.role_changed", member, before, {"role": role, "email": member.user.email})


def set_active(member: PartnerMember, actor: User, active: bool) -> None:
    _lock(member)
    if member.is_active == active:
        raise MemberError("This member is already active." if active else "This member is already deactivated.")
    if not active and member.user_id == actor.id:
        raise MemberError("You cannot deactivate yourself.")
    if not active and member.role == "owner" and _active_owners(member.partner_id) <= 1:
        raise MemberError("A partner needs an active owner: make someone else owner first.")
    before = {"status": member.status}
    member.status = "active" if active else "deactivated"
    member.deactivated_at = None if active else utcnow()
    if not active:
        end_all_sessions(member.user)  # their open pages stop working at once
    action = "member.reactivated" if active else "member.deactivated"
    audit.record(actor, action, member, before, {"status": member.status, "email": member.user.email})


# --- invitations by email -------------------------------------------------------------------------


def invite(partner: ChannelPartner, email: str, role: str, actor: User) -> PartnerInvite:
    """Invite `email` as `role`; the email (and its link) goes out after the commit. flush() only."""
    email = normalise_email(email)
    if role not in MEMBER_ROLES:
        raise MemberError("Choose owner, manager or viewer.", "role")
    if find_by_email(email) is not None:
        raise MemberError("This email already has a LeadFlow PM account; invite another address.", "email")
    for old in _open_invites(partner, email):
        old.revoked_at = utcnow()  # the newest invitation is the one that works
    row = PartnerInvite(
        partner_id=partner.id,
        email=email,
        role=role,
        token_hash=digest(secrets.token_urlsafe(32)),  # replaced by the sent link's token
        created_by=actor.id,
        expires_at=utcnow() + INVITE_LIFETIME,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "member.invited", row, after={"email": email, "role": role, "partner": str(partner.id)})
    context = {"invite_id": str(row.id), "company": partner.company_name, "inviter": actor.display_name}
    notifications.queue_email(email, "member_invite", f"Join {partner.company_name} on LeadFlow PM", context)
    return row


def _open_invites(partner, email=None) -> list[PartnerInvite]:
    stmt = sa.select(PartnerInvite).where(
        PartnerInvite.partner_id == partner.id,
        PartnerInvite.accepted_at.is_(None),
        PartnerInvite.revoked_at.is_(None),
    )
    if email is not None:
        stmt = stmt.where(PartnerInvite.email == email)
    return list(db.session.scalars(stmt.order_by(PartnerInvite.created_at.desc())))


def open_invites_statement(partner) -> sa.Select:
    """The partner's invitations that can still be accepted (state "open"); unordered."""
    return sa.select(PartnerInvite).where(
        PartnerInvite.partner_id == partner.id,
        PartnerInvite.accepted_at.is_(None),
        PartnerInvite.revoked_at.is_(None),
        PartnerInvite.expires_at > utcnow(),
    )


def open_invites(partner) -> list[PartnerInvite]:
    return list(db.session.scalars(open_invites_statement(partner).order_by(PartnerInvite.created_at.desc())))


def invite_email_link(invite_id) -> str | None:
    """For the email job: a fresh link for an open invitation (the previous link stops working), else None."""
    row = db.session.get(PartnerInvite, uuid.UUID(str(invite_id)))
    if row is None or row.state != "open":
        return None
    token = secrets.token_urlsafe(32)
    row.token_hash = digest(token)
    return notifications.path_for("join.accept", token=token)


def revoke(row: PartnerInvite, actor: User) -> None:
    db.session.refresh(row, with_for_update=True)
    if row.state != "open":
        raise MemberError("This invitation is no longer open.")
    row.revoked_at = utcnow()
    audit.record(actor, "member.invite_revoked", row, after={"email": row.email})


def find_invite(token: str) -> PartnerInvite:
    """The open invitation of a link, or MemberError saying why it cannot be used."""
    if not token or len(token) > 100:
        raise MemberError("This invitation link is not valid. Check that you copied all of it.")
    row = db.session.scalar(sa.select(PartnerInvite).where(PartnerInvite.token_hash == digest(token)))
    if row is None:
        raise MemberError("This invitation link is not valid, or a newer one was sent since.")
    if row.state != "open":
        raise MemberError(
            {"accepted": "This invitation has already been used.", "revoked": "This invitation was withdrawn."}.get(
                row.state, "This invitation has expired: ask for a new one."
            )
        )
    if row.partner.status not in ("approved", "inactive"):
        raise MemberError("This partner cannot take new members now.")
    return row


def accept(token: str, name: str, password: str) -> User:
    """Create the invited login and its membership; the invitation is spent atomically (one of two clicks wins)."""
    row = find_invite(token)
    spent = db.session.execute(
        sa.update(PartnerInvite)
        .where(PartnerInvite.id == row.id, PartnerInvite.accepted_at.is_(None), PartnerInvite.revoked_at.is_(None))
        .values(accepted_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise MemberError("This invitation has already been used.")
    if find_by_email(row.email) is not None:
        raise MemberError("This email already has a LeadFlow PM account.")
    user = _new_login(row.email, name, password, confirmed=True)  # the link reached this inbox
    member = add_member(row.partner, user, row.role, row.inviter)
    row.accepted_by = user.id
    audit.record(user, "member.joined", member, after={"email": user.email, "role": row.role, "via": "invitation"})
    return user


def _new_login(email: str, name: str, password: str, confirmed: bool) -> User:
    user = User(
        email=normalise_email(email),
        password_hash=hash_password(password),
        name=(name or "").strip(),
        role="channel_partner",
        status="active",
        email_confirmed_at=utcnow() if confirmed else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


# --- the shared invite code -----------------------------------------------------------------------


def new_invite_code() -> str:
    return secrets.token_urlsafe(9)  # 12 characters, about 72 bits


def regenerate_code(partner: ChannelPartner, actor: User) -> str:
    partner.invite_code = new_invite_code()
    audit.record(actor, "member.invite_code_regenerated", partner)
    return partner.invite_code


def partner_for_code(code: str) -> ChannelPartner | None:
    code = (code or "").strip()
    if not code or len(code) > 40:
        return None
    partner = db.session.scalar(sa.select(ChannelPartner).where(ChannelPartner.invite_code == code))
    return partner if partner is not None and partner.status in ("approved", "inactive") else None


def join_with_code(code: str, email: str, password: str, name: str) -> User:
    """Sign-up with an owner's shared code: an active viewer of that partner (email to be confirmed)."""
    partner = partner_for_code(code)
    if partner is None:
        raise MemberError("This invite code is not valid. Ask the partner's owner for the current one.", "invite_code")
    if find_by_email(email) is not None:
        raise MemberError("An account with this email already exists.", "email")
    user = _new_login(email, name, password, confirmed=False)
    member = add_member(partner, user, CODE_JOIN_ROLE)
    audit.record(user, "member.joined", member, after={"email": user.email, "role": CODE_JOIN_ROLE, "via": "code"})
    owners = active_users(partner, roles=("owner",))
    notifications.notify(owners, "member_joined", reference=("cp", partner.id), name=user.display_name, email=False)
    return user
