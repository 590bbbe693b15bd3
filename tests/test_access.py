"""Walk every route of the app with every role and compare with the one permission table."""

import pytest

from tests.access_table import ROLES, ROUTES
from tests.conftest import login
from tests.world import build_world

SKIP_METHODS = {"HEAD", "OPTIONS"}


def app_routes(app) -> set[str]:
    return {
        f"{method} {rule.endpoint}"
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not rule.rule.startswith("/api/v1/")  # the API's own table
        for method in rule.methods - SKIP_METHODS
    }


def test_every_route_is_in_the_table(app):
    routes = app_routes(app)
    missing = sorted(routes - ROUTES.keys())
    stale = sorted(ROUTES.keys() - routes)
    assert not missing, f"routes without an entry in tests/access_table.py: {missing}"
    assert not stale, f"entries for routes that do not exist: {stale}"


@pytest.mark.parametrize("key", sorted(ROUTES))
def test_route_answers_each_role_as_the_table_says(app, key):
    method, endpoint = key.split(" ", 1)
    path_template, expected = ROUTES[key]
    world = build_world()
    path = path_template.format(**world["ids"])
    got = {}
    for role in ROLES:
        client = app.test_client()
        if role != "anon":
            login(client, world["users"][role])
        response = client.open(path, method=method, data={})
        got[role] = response.status_code
    assert got == expected, f"{key} {path}: got {got}, table says {expected}"
