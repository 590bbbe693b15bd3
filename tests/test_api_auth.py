"""API credentials (issue 19 item 3): user tokens with MFA, expiry, refresh rotation and reuse detection; API keys
hashed, scoped, revocable at once; problem JSON for every refusal; no cookie counts."""

import hashlib

import pytest
import sqlalchemy as sa

from app.accounts import api_keys
from app.extensions import db
from app.models import ApiKey, ApiTokenFamily, AuditEvent
from tests import factories
from tests.api_support import bearer, key_for, key_headers
from tests.test_mfa import clock, enrolled  # noqa: F401  (the clock fixture)


def sign_in(client, user, **extra):
    return client.post("/api/v1/auth/token", json={"email": user.email, "password": factories.PASSWORD, **extra})


def me(client, headers):
    return client.get("/api/v1/auth/me", headers=headers)


def test_a_token_signs_in_reads_and_refreshes(client):
    partner = factories.make_partner()
    db.session.commit()
    answer = sign_in(client, partner.user)
    assert answer.status_code == 200
    pair = answer.json
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    assert me(client, bearer(pair["access_token"])).json["partner_id"] == str(partner.id)

    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200
    assert renewed.json["refresh_token"] != pair["refresh_token"]
    assert me(client, bearer(renewed.json["access_token"])).status_code == 200


def test_wrong_password_is_401_problem_json_and_counted(client, app):
    user = factories.make_user("admin")
    db.session.commit()
    answer = client.post("/api/v1/auth/token", json={"email": user.email, "password": "wrong"})
    assert answer.status_code == 401
    assert answer.mimetype == "application/problem+json"
    assert answer.json["status"] == 401 and answer.json["title"] == "Unauthorized"
    for _ in range(12):
        last = client.post("/api/v1/auth/token", json={"email": user.email, "password": "wrong"})
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0


def test_mfa_user_needs_the_code(client, clock):  # noqa: F811
    user = factories.make_user("admin")
    db.session.commit()
    secret, _codes = enrolled(user, clock)
    missing = sign_in(client, user)
    assert missing.status_code == 401 and "mfa_code" in missing.json["errors"]
    assert sign_in(client, user, mfa_code="000000").status_code == 401
    assert sign_in(client, user, mfa_code=clock.code(secret)).status_code == 200


def test_an_access_token_expires(client, app, monkeypatch):
    user = factories.make_user("admin")
    db.session.commit()
    token = sign_in(client, user).json["access_token"]
    monkeypatch.setitem(app.config, "API_ACCESS_TOKEN_SECONDS", 0)
    import time

    time.sleep(1.1)
    assert me(client, bearer(token)).status_code == 401


def test_reusing_a_rotated_refresh_token_revokes_the_family(client):
    user = factories.make_user("admin")
    db.session.commit()
    first = sign_in(client, user).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    stolen = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401 and "already used" in stolen.json["detail"]
    # Every token of that sign-in is dead now: the thief's and the owner's alike.
    assert me(client, bearer(second["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
    family = db.session.scalars(sa.select(ApiTokenFamily)).one()
    assert family.revoked_reason == "refresh_token_reused"
    # Another sign-in is unaffected.
    assert me(client, bearer(sign_in(client, user).json["access_token"])).status_code == 200


def test_signing_out_and_changing_password_end_tokens(client):
    user = factories.make_user("admin")
    db.session.commit()
    pair = sign_in(client, user).json
    assert client.post("/api/v1/auth/revoke", json={"refresh_token": pair["refresh_token"]}).status_code == 204
    assert me(client, bearer(pair["access_token"])).status_code == 401

    other = sign_in(client, user).json
    user.session_version += 1  # what a password change or a suspension does
    db.session.commit()
    assert me(client, bearer(other["access_token"])).status_code == 401


def test_suspended_and_pending_users_get_no_token(client):
    pending = factories.make_partner(status="pending").user
    suspended = factories.make_user("admin", status="suspended")
    db.session.commit()
    assert sign_in(client, pending).status_code == 401
    assert sign_in(client, suspended).status_code == 401


def test_keys_are_stored_hashed_shown_once_and_revoked_at_once(client):
    partner = factories.make_partner()
    db.session.commit()
    secret = key_for(partner.user, ["leads:read"])
    row = db.session.scalars(sa.select(ApiKey)).one()
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(row.__dict__)
    assert secret.startswith(row.prefix)
    assert client.get("/api/v1/leads", headers=key_headers(secret)).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiKey, row.id).last_used_at is not None
    api_keys.revoke(db.session.get(ApiKey, row.id), partner.user)
    db.session.commit()
    assert client.get("/api/v1/leads", headers=key_headers(secret)).status_code == 401
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"api_key.created", "api_key.revoked"} <= actions


def test_a_key_does_no_more_than_its_scopes_nor_its_user(client):
    partner = factories.make_partner()
    viewer = factories.make_member(partner, "viewer")
    db.session.commit()
    read_only = key_for(partner.user, ["leads:read"])
    assert client.post("/api/v1/leads", json={}, headers=key_headers(read_only)).status_code == 403
    # A viewer's key cannot be made; a key of a member who becomes a viewer stops writing.
    with pytest.raises(Exception, match="owners and managers"):
        api_keys.create(viewer, "mine", ["leads:read"])
    db.session.rollback()
    manager = factories.make_member(partner, "manager")
    db.session.commit()
    writer = key_for(manager, ["leads:write"])
    manager.membership.role = "viewer"
    db.session.commit()
    assert client.post("/api/v1/leads", json={}, headers=key_headers(writer)).status_code == 403


def test_partners_cannot_grant_the_trusted_scope(client):
    partner = factories.make_partner()
    db.session.commit()
    with pytest.raises(api_keys.ApiKeyError):
        api_keys.create(partner.user, "supplier", ["leads:write", "leads:trusted"])


def test_garbage_credentials_are_401_never_500(client):
    for headers in (
        {"X-API-Key": "lf_" + "x" * 40},
        {"X-API-Key": "nonsense"},
        {"Authorization": "Bearer lfat_garbage"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        answer = client.get("/api/v1/leads", headers=headers)
        assert answer.status_code == 401 and answer.mimetype == "application/problem+json"
        assert "WWW-Authenticate" in answer.headers


def test_unknown_paths_and_methods_are_problem_json(client):
    answer = client.get("/api/v1/no-such-thing")
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    answer = client.delete("/api/v1/auth/token")
    assert answer.status_code == 405 and answer.mimetype == "application/problem+json"


def test_rate_limit_per_key_answers_429_with_retry_after(app):
    from tests.conftest import make_app

    limited = make_app(API_RATE_LIMIT="3 per minute")
    with limited.app_context():
        partner = factories.make_partner()
        db.session.commit()
        first, second = key_for(partner.user, ["leads:read"]), key_for(partner.user, ["leads:read"], name="two")
        client = limited.test_client()
        codes = [client.get("/api/v1/leads", headers=key_headers(first)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.get("/api/v1/leads", headers=key_headers(first))
        assert refused.mimetype == "application/problem+json" and int(refused.headers["Retry-After"]) > 0
        assert client.get("/api/v1/leads", headers=key_headers(second)).status_code == 200  # each key its own budget
