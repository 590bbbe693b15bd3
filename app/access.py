"""Deny by default: every endpoint names the roles it admits, checked in one place before each request.

A blueprint declares the roles of all its routes with `portal_roles(bp, ...)`; a view narrows or
widens that with `@roles(...)`; anonymous pages say `@public`. An endpoint that declares nothing is
refused with 403, so a forgotten declaration fails closed.
"""

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from app.accounts import mfa, sessions
from app.web import is_htmx

CP, ADMIN, SUPER = "channel_partner", "admin", "super_admin"
STAFF = (ADMIN, SUPER)
ANY_USER = (CP, ADMIN, SUPER)
PUBLIC = "public"

_blueprint_roles: dict[str, tuple[str, ...]] = {}
# Pages a pending (not yet approved) or password-change-bound user may still open.
_ALWAYS_OPEN = {"static", "auth.logout", "core.healthz"}
_PENDING_OPEN = _ALWAYS_OPEN | {"auth.pending", "auth.confirm_resend"}
_PASSWORD_OPEN = _ALWAYS_OPEN | {"auth.change_password"}

HOME = {CP: "cp.dashboard", ADMIN: "admin.dashboard", SUPER: "superadmin.dashboard"}
# Set in the session when this login passed MFA or the user was seen to have it on: no query per page after that.
MFA_SESSION_KEY = "mfa"
# Where a user whose role requires MFA, and who has none yet, is sent: the security page and its actions.
_MFA_ENROLMENT = "account.security"


def roles(*allowed: str):
    def decorate(view):
        view.allowed_roles = tuple(allowed)
        return view

    return decorate


def public(view):
    view.allowed_roles = PUBLIC
    return view


def portal_roles(blueprint, *allowed: str) -> None:
    _blueprint_roles[blueprint.name] = tuple(allowed)


def public_blueprint(name: str) -> None:
    """A blueprint registered by a library (the OpenAPI document's) whose routes are all public."""
    _blueprint_roles[name] = PUBLIC


def allowed_roles_for(endpoint: str):
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return None
    declared = getattr(view, "allowed_roles", None)
    if declared is not None:
        return declared
    blueprint = endpoint.rsplit(".", 1)[0] if "." in endpoint else None
    return _blueprint_roles.get(blueprint)


def home_url(user) -> str:
    if user.status == "pending":
        return url_for("auth.pending")
    return url_for(HOME[user.role])


def _unauthenticated():
    if is_htmx():
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


# Background refreshes (badge polling, the live socket) are not the user being active: they must not
# keep an unattended tab's session alive past the idle timeout.
_PASSIVE = {"notifications.badge", "notifications.ws"}


def enforce():
    """before_request: session timeouts, pending/forced-password redirects, then the role check."""
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return None  # 404s and static files
    if request.path.startswith("/api/v1/"):
        from app.api.principal import enforce as enforce_api

        return enforce_api(endpoint)  # keys and tokens, never the session cookie
    if current_user.is_authenticated and sessions.expired(passive=endpoint in _PASSIVE):
        logout_user()
        session.clear()
        flash("Your session has expired. Please log in again.", "warning")
        return _unauthenticated()
    allowed = allowed_roles_for(endpoint)
    if allowed is None:
        abort(403)  # nothing declared: deny by default
    if allowed == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return _unauthenticated()
    if current_user.status == "pending" and endpoint not in _PENDING_OPEN:
        return redirect(url_for("auth.pending"))
    if current_user.must_change_password and endpoint not in _PASSWORD_OPEN:
        return redirect(url_for("auth.change_password"))
    if endpoint not in _ALWAYS_OPEN and _mfa_missing(endpoint):
        return _to_mfa_enrolment()
    if endpoint in _ALWAYS_OPEN or endpoint in _PENDING_OPEN or endpoint in _PASSWORD_OPEN:
        return None
    if current_user.status != "active" or current_user.role not in allowed:
        abort(403)
    if current_user.is_cp and current_user.member_role not in member_roles_for(endpoint):
        abort(403)
    return None


def _mfa_missing(endpoint: str) -> bool:
    """True for staff who must use MFA (MFA_REQUIRED_FOR_STAFF) and have not turned it on, outside the security page."""
    if endpoint.startswith(_MFA_ENROLMENT) or session.get(MFA_SESSION_KEY) or not mfa.required_for(current_user):
        return False
    if mfa.is_enabled(current_user):
        session[MFA_SESSION_KEY] = True
        return False
    return True


def _to_mfa_enrolment():
    target = url_for(_MFA_ENROLMENT)
    if is_htmx():
        response = current_app.response_class(status=200)
        response.headers["HX-Redirect"] = target
        return response
    flash("Your role requires two-factor authentication: set it up to continue.", "warning")
    return redirect(target)


# --- a partner's members: owner, manager, viewer ---------------------------------------------------

OWNER, MANAGER, VIEWER = "owner", "manager", "viewer"
ANY_MEMBER = (OWNER, MANAGER, VIEWER)
WORKERS = (OWNER, MANAGER)


def members(*allowed: str):
    """The member roles a partner's route admits, when not the default (see member_roles_for)."""

    def decorate(view):
        view.member_roles = tuple(allowed)
        return view

    return decorate


def may(endpoint: str, method: str = "POST") -> bool:
    """For templates: whether the current user's role (and member role) admits `method` on `endpoint`, so a
    page shows only the buttons that work for this person."""
    allowed = allowed_roles_for(endpoint)
    if allowed is None or not current_user.is_authenticated:
        return allowed == PUBLIC
    if allowed != PUBLIC and current_user.role not in allowed:
        return False
    return not current_user.is_cp or current_user.member_role in member_roles_for(endpoint, method)


def member_roles_for(endpoint: str, method: str | None = None) -> tuple[str, ...]:
    """In the partner portal, members may read what their partner may (GET) and changing anything needs an owner
    or manager; a route marked @members(...) says otherwise (the owner's pages: team, bank details, payouts)."""
    declared = getattr(current_app.view_functions.get(endpoint), "member_roles", None)
    if declared is not None:
        return declared
    if not endpoint.startswith(("cp.", "api_")) or (method or request.method) in ("GET", "HEAD"):
        return ANY_MEMBER  # a member's own things (account, notifications) are theirs whatever the role
    return WORKERS
