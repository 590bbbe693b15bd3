"""Walk every API operation with every role's token, and with API keys that hold and lack its scope, and compare
with tests/api_access_table.py. A session cookie never counts on the API."""

import pytest

from app.models.api import SCOPES
from tests.api_access_table import API_ROUTES
from tests.api_support import bearer, key_for, key_headers, token_for
from tests.conftest import login
from tests.world import build_world

ROLES = ("anon", "pending", "other", "cp", "manager", "viewer", "admin", "super")


def api_routes(app) -> set[str]:
    return {
        f"{method} {rule.endpoint}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_api_operation_is_in_the_table(app):
    routes = api_routes(app)
    assert not sorted(routes - API_ROUTES.keys()), "API operations missing from tests/api_access_table.py"
    assert not sorted(API_ROUTES.keys() - routes), "entries for API operations that do not exist"


def _call(app, method, path, headers):
    return app.test_client().open(path, method=method, json={}, headers=headers).status_code


@pytest.mark.parametrize("key", sorted(API_ROUTES))
def test_operation_answers_each_role_and_scope_as_the_table_says(app, key):
    method, _endpoint = key.split(" ", 1)
    path_template, expected = API_ROUTES[key]
    world = build_world()
    path = path_template.format(**world["ids"])
    got = {"scope": expected["scope"]}
    for role in ROLES:
        headers = {} if role == "anon" else bearer(token_for(world["users"][role]))
        got[role] = _call(app, method, path, headers)
    assert got == expected, f"{key} {path}: got {got}, table says {expected}"

    scope = expected["scope"]
    if scope is None:
        return
    owner = world["users"]["cp"]
    if scope != "*":
        lacking = key_for(owner, [s for s in SCOPES if s not in (scope, "leads:trusted")] or ["leads:read"])
        assert _call(app, method, path, key_headers(lacking)) == 403, f"{key}: a key without {scope} was let in"
    holding = key_for(owner, [scope] if scope != "*" else ["leads:read"])
    assert _call(app, method, path, key_headers(holding)) == expected["cp"], f"{key}: a key with {scope}"


def test_a_session_cookie_does_not_count_on_the_api(app):
    world = build_world()
    client = login(app.test_client(), world["users"]["admin"])
    assert client.get("/api/v1/leads").status_code == 401
    assert client.get("/admin/").status_code == 200  # the same cookie still opens the pages
