"""Staff accounts (SPEC §9.1; issue 17, item 5): the super admin invites, suspends and reactivates admins and
super admins; `flask create-user` does the same from a shell. Every change is audited; flush() only.

The platform always keeps an active super admin: suspending one first locks the active super admins' rows
(SELECT … FOR UPDATE on PostgreSQL), so two super admins suspending each other at once cannot both succeed.
"""

import secrets

import sqlalchemy as sa

from app.accounts import recovery, tokens
from app.accounts.operations import AccountError, find_by_email, normalise_email
from app.accounts.passwords import hash_password
from app.audit import trail as audit
from app.comms import notifications
from app.extensions import db
from app.models import User

STAFF_ROLES = {"admin": "Admin", "super_admin": "Super admin"}


def staff_list() -> list[User]:
    """Admins and super admins: super admins first, then by name."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role.in_(STAFF_ROLES))
            .order_by(User.role.desc(), sa.func.lower(User.name), User.email)
        )
    )


def _new_staff(email: str, name: str, role: str, password: str | None) -> User:
    if role not in STAFF_ROLES:
        raise AccountError("Choose admin or super admin.", field="role")
    if find_by_email(email):
        raise AccountError("An account with this email already exists.", field="email")
    user = User(
        email=normalise_email(email),
        name=(name or "").strip(),
        role=role,
        status="active",
        # Without a password of their own the account has an unusable one until the set-password link is used.
        password_hash=hash_password(password or secrets.token_urlsafe(32)),
        must_change_password=password is None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def _queue_invite(user: User, actor: User) -> None:
    notifications.queue_email(
        user,
        "staff_invite",
        "You are invited to LeadFlow PM",
        {
            "name": user.display_name,
            "email": user.email,
            "role_label": STAFF_ROLES[user.role].lower(),
            "inviter": actor.display_name,
        },
    )


def invite(actor: User, name: str, email: str, role: str) -> User:
    """A new active admin or super admin, emailed a set-password link (7 days, single use)."""
    user = _new_staff(email, name, role, None)
    audit.record(actor, "staff.invited", user, after={"email": user.email, "name": user.name, "role": role})
    _queue_invite(user, actor)
    return user


def resend_invite(user: User, actor: User) -> None:
    """The invitation again, with a new link (the job voids the previous one)."""
    if user.status != "active" or not user.must_change_password:
        raise AccountError("This person has already chosen a password, or the account is not active.")
    audit.record(actor, "staff.invite_resent", user)
    _queue_invite(user, actor)


def _active_super_admin_ids() -> set:
    """The active super admins, their rows locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
    return set(
        db.session.scalars(
            sa.select(User.id)
            .where(User.role == "super_admin", User.status == "active")
            .order_by(User.id)
            .with_for_update()
        )
    )


def suspend(user: User, actor: User | None) -> None:
    """Suspend an admin or super admin: they are logged out everywhere at once and cannot log in."""
    active_supers = _active_super_admin_ids()
    db.session.refresh(user)  # the status as it is now that the super admins' rows are locked
    if user.status != "active":
        raise AccountError("Only active accounts can be suspended.")
    if user.role == "super_admin" and active_supers <= {user.id}:
        raise AccountError("This is the last active super admin: invite or reactivate another one first.")
    if actor is not None and actor.id == user.id:
        raise AccountError("You cannot suspend your own account.")
    user.status = "suspended"
    recovery.end_all_sessions(user)
    audit.record(actor, "staff.suspended", user, before={"status": "active"}, after={"status": "suspended"})


def reactivate(user: User, actor: User | None) -> None:
    if user.status != "suspended":
        raise AccountError("Only suspended accounts can be reactivated.")
    user.status = "active"
    audit.record(actor, "staff.reactivated", user, before={"status": "suspended"}, after={"status": "active"})


def create_from_cli(email: str, name: str, role: str, password: str | None) -> tuple[User, str | None]:
    """`flask create-user`: the new account and, without a password, a set-password link path to hand over."""
    user = _new_staff(email, name, role, password)
    audit.record(None, "staff.created", user, after={"email": user.email, "role": role, "by": "flask create-user"})
    link = None
    if password is None:
        link = notifications.path_for("auth.set_password", token=tokens.issue(user, "set_password"))
    return user, link
