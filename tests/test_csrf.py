"""CSRF everywhere, with CSRF ON: every state-changing route refuses a request without a valid token and
changes nothing; no GET changes anything. Driven by the permission table, so new routes are covered."""

import pytest

from app.extensions import csrf
from tests.conftest import make_app
from tests.report_summary import record
from tests.security_support import (
    STATE_CHANGING,
    admitted_roles,
    changed_tables,
    client_for,
    csrf_token_of,
    fill,
    fingerprint,
    fresh_world,
    routes,
)
from tests.world import build_world

# Signature-verified instead of session-bound: the only pages' routes allowed to skip the CSRF check.
EXEMPT_BY_DESIGN = {"webhooks.stripe", "webhooks.twilio_sms"}  # each verifies its sender's signature


@pytest.fixture(scope="module")
def csrf_app():
    return make_app(WTF_CSRF_ENABLED=True)


def exempt_endpoints(app) -> set[str]:
    exempt = set()
    for endpoint, view in app.view_functions.items():
        location = f"{view.__module__}.{view.__name__}"
        blueprint = app.blueprints.get(endpoint.rsplit(".", 1)[0]) if "." in endpoint else None
        if location in csrf._exempt_views or (blueprint is not None and blueprint in csrf._exempt_blueprints):
            exempt.add(endpoint)
    return exempt


def test_only_the_signed_webhooks_are_exempt(csrf_app):
    # The API takes no cookie, so it has nothing for CSRF to protect (tests/test_api_access.py proves a session
    # cookie does not count there); every other route is checked.
    exempt = {endpoint for endpoint in exempt_endpoints(csrf_app) if not endpoint.startswith("api_")}
    assert exempt <= EXEMPT_BY_DESIGN, f"routes that skip CSRF: {sorted(exempt - EXEMPT_BY_DESIGN)}"
    assert csrf_app.config["WTF_CSRF_ENABLED"] and csrf_app.config["WTF_CSRF_CHECK_DEFAULT"]


def test_the_exempt_webhook_refuses_unsigned_calls(csrf_app):
    if "webhooks.stripe" not in csrf_app.view_functions:
        pytest.fail("the Stripe webhook is not registered")
    before = fingerprint()
    response = csrf_app.test_client().post(
        "/webhooks/stripe", data=b'{"id": "evt_forged", "type": "checkout.session.completed"}'
    )
    assert response.status_code == 400
    assert changed_tables(before, fingerprint()) == []


def _csrf_refused(response, htmx: bool) -> bool:
    if response.status_code != 400:
        return False
    return response.headers.get("HX-Refresh") == "true" if htmx else "form expired" in response.get_data(as_text=True)


def test_every_state_changing_route_refuses_a_missing_or_foreign_token(csrf_app):
    world = build_world()
    foreign_token = csrf_token_of(client_for(csrf_app, world, "other"))  # valid, but of another session
    exempt = exempt_endpoints(csrf_app)
    attempts, failures = 0, []
    checked_routes = 0
    for method, endpoint, path, expected in routes(STATE_CHANGING):
        if endpoint in exempt:
            continue
        roles = admitted_roles(csrf_app, endpoint, expected)
        assert roles, f"{method} {endpoint}: no role is admitted, so nothing proves its CSRF check"
        checked_routes += 1
        for role in roles:
            client = client_for(csrf_app, world, role)
            csrf_token_of(
                client, "/auth/login" if role == "anon" else "/auth/change-password"
            )  # the session has its own
            url = fill(path, world)
            for htmx, headers in (
                (False, {}),
                (True, {"HX-Request": "true"}),
                (True, {"HX-Request": "true", "X-CSRFToken": foreign_token}),
            ):
                before = fingerprint()
                response = client.open(url, method=method, data={"note": "x"}, headers=headers)
                attempts += 1
                changed = changed_tables(before, fingerprint())
                if not _csrf_refused(response, htmx) or changed:
                    failures.append(
                        f"{method} {endpoint} as {role} {headers}: {response.status_code}, changed {changed}"
                    )
    record("csrf", state_changing_routes=checked_routes, requests_without_valid_token=attempts, accepted=len(failures))
    print(f"CSRF: {attempts} requests without a valid token to {checked_routes} routes, {len(failures)} accepted")
    assert checked_routes > 0
    assert not failures, "\n".join(failures)


def test_a_valid_token_is_accepted_so_the_refusals_above_mean_something(csrf_app):
    """With the session's own token, no route answers with the CSRF refusal."""
    exempt = exempt_endpoints(csrf_app)
    refused = []
    for method, endpoint, path, expected in routes(STATE_CHANGING):
        if endpoint in exempt:
            continue
        world = fresh_world(csrf_app)  # an earlier post may have suspended or logged out the role's user
        role = admitted_roles(csrf_app, endpoint, expected)[0]
        client = client_for(csrf_app, world, role)
        token = csrf_token_of(client, "/auth/login" if role == "anon" else "/auth/change-password")
        response = client.open(
            fill(path, world), method=method, data={}, headers={"HX-Request": "true", "X-CSRFToken": token}
        )
        if _csrf_refused(response, htmx=True):
            refused.append(f"{method} {endpoint} as {role}")
    assert not refused, "refused despite a valid token:\n" + "\n".join(refused)


# GETs whose purpose is to record something (a referral link's visit, an asset's download), and the only tables they
# may change.
ASSET_DOWNLOADS = {"marketing_assets", "marketing_asset_downloads"}
RECORDS_ON_GET = {
    "public.referral": {"referral_visits"},
    "cp.asset_download": ASSET_DOWNLOADS,
    "cp.asset_cobranded": ASSET_DOWNLOADS,
}


def test_no_get_changes_anything(csrf_app):
    """Every GET route, as every role it admits, full page and HTMX: every table byte-for-byte the same
    (a GET that exists to record something changes its own table and nothing else)."""
    world = build_world()
    requests, changed_by = 0, []
    for _method, endpoint, path, expected in routes({"GET"}):
        for role in admitted_roles(csrf_app, endpoint, expected):
            client = client_for(csrf_app, world, role)
            before = fingerprint()
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(fill(path, world), headers=headers)
                response.close()  # a streamed export holds its read until closed (SQLite: no writer may commit)
                assert response.status_code < 500, f"GET {endpoint} as {role}: {response.status_code}"
                requests += 1
            changed = sorted(set(changed_tables(before, fingerprint())) - RECORDS_ON_GET.get(endpoint, set()))
            if changed:
                changed_by.append(f"GET {endpoint} as {role} changed {changed}")
    record("get_is_safe", get_requests=requests, changed_state=len(changed_by))
    print(f"GET requests: {requests}, state changes: {len(changed_by)}")
    assert requests > 0
    assert not changed_by, "\n".join(changed_by)


def test_the_state_check_notices_a_change(csrf_app):
    from app.extensions import db
    from tests import factories

    before = fingerprint()
    factories.make_user("admin")
    db.session.commit()
    assert changed_tables(before, fingerprint()) == ["users"]
