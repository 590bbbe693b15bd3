"""THE permission table of the API: every /api/v1 operation, the status each role gets with a user token, and
the API-key scope it needs.

Keys are "METHOD endpoint"; values are (path, expected, scope): the path may name ids from tests/world.py in
braces; `expected` maps each role of tests/access_table.ROLES to a status; `scope` is what an API key needs
(None for a public operation). Requests send an empty JSON object, so an admitted role usually gets its
validation answer (422). tests/test_api_access.py walks it with tokens, and with keys holding and lacking the
scope. Each domain keeps its rows in tests/api_access_routes/<domain>.py (an API_ROUTES dict), merged here.
"""

import importlib
import pkgutil

from tests import api_access_routes


def api(scope, anon=401, pending=403, cp=403, other=None, admin=403, super=403, manager=None, viewer=None):
    """manager defaults to what cp gets; viewer too, except for a change (403), filled in by _members."""
    return {
        "scope": scope,
        "anon": anon,
        "pending": pending,
        "cp": cp,
        "other": cp if other is None else other,
        "manager": manager,
        "viewer": viewer,
        "admin": admin,
        "super": super,
    }


def public_op(code=200) -> dict:
    return {
        "scope": None,
        **{role: code for role in ("anon", "pending", "cp", "other", "manager", "viewer", "admin", "super")},
    }


def any_user(scope, ok=200, other=None) -> dict:
    return api(scope, cp=ok, other=ok if other is None else other, admin=ok, super=ok)


def partner_op(scope, ok=200, other=None) -> dict:
    return api(scope, cp=ok, other=ok if other is None else other)


def admin_op(scope, ok=200) -> dict:
    return api(scope, admin=ok)


def staff_op(scope, ok=200) -> dict:
    return api(scope, admin=ok, super=ok)


def super_op(scope, ok=200) -> dict:
    return api(scope, super=ok)


def _members(key: str, expected: dict) -> dict:
    method = key.split(" ", 1)[0]
    changes = method not in ("GET", "HEAD")
    viewer = expected["viewer"]
    if viewer is None:
        viewer = 403 if changes and expected["cp"] != 403 and expected["scope"] else expected["cp"]
    return {
        **expected,
        "manager": expected["cp"] if expected["manager"] is None else expected["manager"],
        "viewer": viewer,
    }


API_ROUTES = {
    "GET api-docs.openapi_json": ("/api/v1/openapi.json", public_op(200)),
    "POST api_auth.token": ("/api/v1/auth/token", public_op(422)),
    "POST api_auth.refresh": ("/api/v1/auth/refresh", public_op(422)),
    "POST api_auth.revoke": ("/api/v1/auth/revoke", public_op(422)),
    "GET api_auth.me": ("/api/v1/auth/me", any_user("*")),
}

for _module in pkgutil.iter_modules(api_access_routes.__path__):
    _rows = importlib.import_module(f"tests.api_access_routes.{_module.name}").API_ROUTES
    _clash = API_ROUTES.keys() & _rows.keys()
    assert not _clash, f"API operations listed twice: {_clash}"
    API_ROUTES.update(_rows)

API_ROUTES = {key: (path, _members(key, expected)) for key, (path, expected) in API_ROUTES.items()}
