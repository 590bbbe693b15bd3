"""Sign-up, approval, manual add, suspension and passwords of users and their channel partners."""

import secrets

import sqlalchemy as sa
from flask import url_for

from app.accounts.passwords import hash_password, verify_password
from app.audit import trail as audit
from app.comms import notifications
from app.errors import Refused
from app.extensions import db
from app.models import ChannelPartner, PartnerMember, User
from app.models.base import utcnow


class AccountError(Refused):
    """A refused account operation; the message is safe to show."""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def add_member(
    partner: ChannelPartner, user: User, role: str = "owner", invited_by: User | None = None
) -> PartnerMember:
    """`user` joins `partner` as `role`; by default its first owner, the account that created it. flush() only.
    (Invitations, roles and deactivation: app/partners/members.py.)"""
    member = PartnerMember(
        partner_id=partner.id, user_id=user.id, role=role, status="active", invited_by=invited_by and invited_by.id
    )
    db.session.add(member)
    db.session.flush()
    user.membership = member
    return member


def register_cp(email: str, password: str, company_name: str, name: str = "") -> User:
    """Self sign-up: a pending user and a pending channel partner; admins are told."""
    if find_by_email(email):
        raise AccountError("An account with this email already exists.")
    user = User(
        email=normalise_email(email),
        password_hash=hash_password(password),
        name=name.strip(),
        role="channel_partner",
        status="pending",
    )
    db.session.add(user)
    db.session.flush()
    partner = ChannelPartner(user_id=user.id, company_name=company_name.strip(), status="pending")
    db.session.add(partner)
    db.session.flush()
    add_member(partner, user)
    audit.record(user, "cp.registered", partner, after={"email": user.email, "company": partner.company_name})
    notifications.notify_admins(
        "cp_signed_up",
        company=partner.company_name,
        reference=("cp", partner.id),
        link=url_for("admin.partner_detail", partner_id=partner.id),
    )
    # The link is issued by the email job (app/accounts/recovery.email_link), so no token sits in the outbox.
    notifications.queue_email(user, "confirm_email", "Confirm your email address", {"name": user.display_name})
    return user


def approve_cp(partner: ChannelPartner, actor: User) -> None:
    if partner.status not in {"pending", "rejected"}:
        raise AccountError("Only pending or rejected partners can be approved.")
    if partner.user.email_confirmed_at is None:
        raise AccountError("The partner has not confirmed their email address yet, so it cannot be approved.")
    before = {"status": partner.status}
    partner.status, partner.approved_by, partner.approved_at = "approved", actor.id, utcnow()
    partner.user.status = "active"
    audit.record(actor, "cp.approved", partner, before=before, after={"status": "approved"})
    notifications.notify(
        [partner.user],
        "cp_approved",
        reference=("cp", partner.id),
        link=url_for("cp.dashboard"),
        email=False,  # the branded welcome email below replaces the generic one
    )
    notifications.queue_email(
        partner.user,
        "welcome_approved",
        "Welcome to LeadFlow PM — your account is approved",
        {"company": partner.company_name, "name": partner.user.display_name, "login_path": url_for("auth.login")},
    )


def reject_cp(partner: ChannelPartner, actor: User, note: str = "") -> None:
    if partner.status != "pending":
        raise AccountError("Only pending partners can be rejected.")
    partner.status, partner.review_note = "rejected", (note or "").strip() or None
    partner.user.status = "rejected"
    audit.record(
        actor, "cp.rejected", partner, before={"status": "pending"}, after={"status": "rejected", "note": note}
    )
    notifications.queue_email(
        partner.user,
        "rejected",
        "Your LeadFlow PM application",
        {"company": partner.company_name, "note": partner.review_note},
    )


def set_suspended(partner: ChannelPartner, actor: User, suspended: bool) -> None:
    if suspended and partner.status != "approved":
        raise AccountError("Only approved partners can be suspended.")
    if not suspended and partner.status != "suspended":
        raise AccountError("Only suspended partners can be reactivated.")
    before = {"status": partner.status}
    partner.status = "suspended" if suspended else "approved"
    partner.user.status = "suspended" if suspended else "active"
    members = db.session.scalars(
        sa.select(User)
        .join(PartnerMember, PartnerMember.user_id == User.id)
        .where(PartnerMember.partner_id == partner.id)
    )
    for user in {partner.user, *members}:
        user.session_version += 1  # ends every open session of the partner's people
    audit.record(actor, "cp.suspended" if suspended else "cp.reactivated", partner, before, {"status": partner.status})


def manual_add_cp(name: str, company_name: str, email: str, actor: User) -> User:
    """An admin adds an approved CP. They have no usable password until they open the welcome email's link."""
    if find_by_email(email):
        raise AccountError("An account with this email already exists.")
    user = User(
        email=normalise_email(email),
        password_hash=hash_password(secrets.token_urlsafe(32)),  # never told to anyone: only the link sets one
        name=name.strip(),
        role="channel_partner",
        status="active",
        must_change_password=True,
    )
    db.session.add(user)
    db.session.flush()
    partner = ChannelPartner(
        user_id=user.id,
        company_name=company_name.strip(),
        status="approved",
        approved_by=actor.id,
        approved_at=utcnow(),
    )
    db.session.add(partner)
    db.session.flush()
    add_member(partner, user)
    audit.record(actor, "cp.manually_added", partner, after={"email": user.email, "company": partner.company_name})
    return user


def send_welcome_credentials(user: User, actor: User) -> None:
    """Queue the welcome email; its job issues a fresh set-password link (7 days), voiding the one sent before."""
    if not user.must_change_password:
        raise AccountError("This partner has already chosen a password.")
    notifications.queue_email(
        user,
        "welcome_credentials",
        "Your LeadFlow PM login",
        {"name": user.display_name, "email": user.email, "login_path": url_for("auth.login")},
    )
    audit.record(actor, "cp.welcome_email_sent", ("users", user.id))


def authenticate(email: str, password: str) -> User | None:
    """The user whose password this is, or None. An unknown email costs the same hashing time as a known one."""
    user = find_by_email(email)
    if not verify_password(user.password_hash if user is not None else None, password):
        return None
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise AccountError("Your current password is not correct.")
    if current == new:
        raise AccountError("Choose a password different from the current one.")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.session_version += 1
    audit.record(user, "user.password_changed", user)
