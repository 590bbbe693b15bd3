"""THE permission table: every route of the app, with the status each role gets.

Keys are "METHOD endpoint"; values are (path, expected) where the path may name ids from
tests/world.py in braces and `expected` maps each role to a status code. Roles:
anon (not logged in), pending (a CP awaiting approval), cp (the owner of the partner that owns the
world's records), manager and viewer (two more members of that partner), other (the owner of a second
partner: a member of another partner), admin, super. Members read what their partner may; in the
partner portal only owners and managers change things (a viewer's POST is 403), and routes marked
owner_only() are the owner's alone. POSTs are sent with an empty form (CSRF off), so an
admitted role usually gets its validation answer (422) or the action's redirect.

A route missing from this table, or an entry for a route that no longer exists, fails the suite.
The foundation's routes are below; each domain keeps its rows in tests/access_routes/<domain>.py
(a ROUTES dict built with the same helpers), merged here into the one table.
"""

import importlib
import pkgutil

from tests import access_routes

ROLES = ("anon", "pending", "other", "cp", "manager", "viewer", "admin", "super")


def expect(anon=302, pending=302, cp=403, other=None, admin=403, super=403, manager=None, viewer=None) -> dict:
    """manager/viewer left None are filled in for each route below (see _members)."""
    return {
        "anon": anon,
        "pending": pending,
        "cp": cp,
        "manager": manager,
        "viewer": viewer,
        "other": cp if other is None else other,
        "admin": admin,
        "super": super,
    }


def owner_only(ok=200, other=None) -> dict:
    """A partner route for its owner alone: team, company and bank details, payouts and fee payments."""
    return expect(cp=ok, other=ok if other is None else other, manager=403, viewer=403)


def _members(key: str, expected: dict) -> dict:
    """A manager gets what the owner gets; a viewer too, except a change in the partner portal (403)."""
    method, endpoint = key.split(" ", 1)
    changes = method not in ("GET", "HEAD") and endpoint.startswith("cp.")
    return {
        **expected,
        "manager": expected["cp"] if expected["manager"] is None else expected["manager"],
        "viewer": (403 if changes else expected["cp"]) if expected["viewer"] is None else expected["viewer"],
    }


def everyone(code=200, anon=None, pending=None) -> dict:
    return expect(
        anon=code if anon is None else anon,
        pending=code if pending is None else pending,
        cp=code,
        admin=code,
        super=code,
    )


def cp_only(ok=200, other=None) -> dict:
    """A CP route; `other` is what a second CP gets for the first CP's record (404 when ids are involved)."""
    return expect(cp=ok, other=ok if other is None else other)


def admin_only(ok=200) -> dict:
    return expect(admin=ok)


def super_only(ok=200) -> dict:
    return expect(super=ok)


def staff(ok=200, super_ok=None) -> dict:
    return expect(admin=ok, super=ok if super_ok is None else super_ok)


def logged_in(ok=200) -> dict:
    """Any active user."""
    return expect(cp=ok, admin=ok, super=ok)


ROUTES = {
    # --- shared -------------------------------------------------------------------------------
    "GET core.index": ("/", everyone(302)),
    "GET core.healthz": ("/healthz", everyone(200)),
    # No session role admits or refuses it: the network and the token do (the test client is loopback and no token is
    # set, the default a same-machine scraper gets). Refusals by address and token: tests/test_metrics.py.
    "GET metrics.metrics": ("/metrics", everyone(200)),
    # --- auth ---------------------------------------------------------------------------------
    "GET auth.login": ("/auth/login", everyone(302, anon=200)),
    "POST auth.login": ("/auth/login", everyone(302, anon=422)),
    "GET auth.register": ("/auth/register", everyone(302, anon=200)),
    "POST auth.register": ("/auth/register", everyone(302, anon=422)),
    "POST auth.logout": ("/auth/logout", everyone(302)),
    "GET auth.pending": ("/auth/pending", everyone(302, pending=200)),
    "GET auth.change_password": ("/auth/change-password", logged_in(200)),
    "POST auth.change_password": ("/auth/change-password", logged_in(422)),
    # --- channel partner portal -----------------------------------------------------------------
    "GET cp.dashboard": ("/cp/", cp_only()),
    # --- admin portal -----------------------------------------------------------------------------
    "GET admin.dashboard": ("/admin/", admin_only()),
    "GET admin.partners": ("/admin/partners", admin_only()),
    "GET admin.partner_detail": ("/admin/partners/{partner}", admin_only()),
    "POST admin.partner_add": ("/admin/partners/add", admin_only(422)),
    "POST admin.partner_approve": ("/admin/partners/{pending_partner}/approve", admin_only(302)),
    "POST admin.partner_reject": ("/admin/partners/{pending_partner}/reject", admin_only(302)),
    "POST admin.partner_suspend": ("/admin/partners/{partner}/suspend", admin_only(302)),
    "POST admin.partner_reactivate": ("/admin/partners/{partner}/reactivate", admin_only(409)),
    "POST admin.partner_welcome_email": ("/admin/partners/{partner}/welcome-email", admin_only(409)),
    # --- super admin portal -----------------------------------------------------------------------
    "GET superadmin.dashboard": ("/super/", super_only()),
}


for _module in pkgutil.iter_modules(access_routes.__path__):
    _rows = importlib.import_module(f"tests.access_routes.{_module.name}").ROUTES
    _clash = ROUTES.keys() & _rows.keys()
    assert not _clash, f"routes listed twice: {_clash}"
    ROUTES.update(_rows)

ROUTES = {key: (path, _members(key, expected)) for key, (path, expected) in ROUTES.items()}
