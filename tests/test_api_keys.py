"""The API key pages (issue 19 item 3): /cp/integrations for a partner's own keys, /admin/api-keys for every key
and staff-issued supplier keys. A key is shown once, stored hashed, scoped; revoking it refuses the next call."""

import re
import uuid

import sqlalchemy as sa

from app.accounts import api_keys
from app.extensions import db
from app.models import ApiKey, AuditEvent, IdempotencyKey
from app.models.api import SCOPES
from tests import factories
from tests.api_support import key_headers
from tests.conftest import login
from tests.test_api_leads import BODY, post_lead

HTMX = {"HX-Request": "true"}
SECRET = re.compile(r'id="new-key-secret" type="text" value="(lf_[A-Za-z0-9_-]+)"')


def secret_in(response) -> str | None:
    found = SECRET.search(response.get_data(as_text=True))
    return found.group(1) if found else None


def create_key(client, name="CRM sync", scopes=("leads:read",), headers=HTMX, **extra):
    return client.post("/cp/integrations/keys", data={"name": name, "scopes": list(scopes), **extra}, headers=headers)


def keys() -> list[ApiKey]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ApiKey).order_by(ApiKey.created_at)))


def me(client, secret):
    return client.get("/api/v1/auth/me", headers=key_headers(secret))


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.created_at)))


def test_an_owner_creates_a_key_whose_secret_shows_once_and_works(app):
    partner = factories.make_partner(company="Northwind")
    db.session.commit()
    owner = login(app.test_client(), partner.user)
    page = owner.get("/cp/integrations").get_data(as_text=True)
    for scope, text in SCOPES.items():  # every scope a partner may grant, described; not the staff-only one
        assert (scope in page and text in page) == (scope != "leads:trusted")
    assert 'curl -H "X-API-Key: lf_your_key"' in page and 'href="/api/docs"' in page and "No API keys yet" in page

    answer = create_key(owner, scopes=("leads:read", "leads:write"))
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    secret = secret_in(answer)
    [row] = keys()
    assert secret and api_keys.digest(secret) == row.key_hash and secret.startswith(row.prefix)
    assert row.scopes == ["leads:read", "leads:write"] and row.user_id == partner.user.id
    assert "<html" not in answer.get_data(as_text=True)  # the section, for htmx
    assert "shown this once" in answer.get_data(as_text=True)

    again = owner.get("/cp/integrations").get_data(as_text=True)
    assert secret not in again and f"{row.prefix}…" in again and "CRM sync" in again and "Never" in again
    assert me(owner, secret).json["api_key"] == "CRM sync"
    assert "Never" not in owner.get("/cp/integrations").get_data(as_text=True)  # last used is shown
    assert "api_key.created" in actions()


def test_without_htmx_the_answer_is_the_whole_page_with_the_secret(app):
    partner = factories.make_partner()
    db.session.commit()
    owner = login(app.test_client(), partner.user)
    answer = create_key(owner, headers={})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" in body and "How to use a key" in body
    assert me(owner, secret_in(answer)).status_code == 200


def test_errors_show_beside_their_fields_and_nothing_is_created(app):
    partner = factories.make_partner()
    db.session.commit()
    owner = login(app.test_client(), partner.user)
    blank = create_key(owner, name="", scopes=())
    body = blank.get_data(as_text=True)
    assert blank.status_code == 422 and 'id="name-error"' in body and "Choose at least one scope." in body
    trusted = create_key(owner, scopes=("leads:write", "leads:trusted"))  # not offered to a partner
    assert trusted.status_code == 422 and 'id="scopes-error"' in trusted.get_data(as_text=True)
    long_name = create_key(owner, name="x" * 81)
    assert long_name.status_code == 422 and keys() == []


def test_revoking_refuses_the_next_call_at_once_and_is_audited(app):
    partner = factories.make_partner()
    manager = factories.make_member(partner, "manager")
    db.session.commit()
    owner = login(app.test_client(), partner.user)
    secret = secret_in(create_key(owner))
    [row] = keys()
    assert me(owner, secret).status_code == 200

    confirm = login(app.test_client(), manager).get(f"/cp/integrations/keys/{row.id}/revoke")
    assert confirm.status_code == 200 and "Revoke the key “CRM sync”?" in confirm.get_data(as_text=True)
    revoked = login(app.test_client(), manager).post(f"/cp/integrations/keys/{row.id}/revoke", headers=HTMX)
    assert revoked.status_code == 200 and f'id="api-key-{row.id}"' in revoked.get_data(as_text=True)
    assert "Revoked" in revoked.get_data(as_text=True)
    assert me(owner, secret).status_code == 401
    assert keys()[0].revoked_by == manager.id and "api_key.revoked" in actions()

    twice = owner.post(f"/cp/integrations/keys/{row.id}/revoke")  # without htmx: back to the page
    assert twice.status_code == 302 and twice.headers["Location"].endswith("/cp/integrations")
    assert actions().count("api_key.revoked") == 1


def test_a_viewer_reads_the_list_and_changes_nothing(app):
    partner = factories.make_partner()
    viewer = factories.make_member(partner, "viewer")
    db.session.commit()
    api_keys.create(partner.user, "Owner's key", ["leads:read"])
    db.session.commit()
    [row] = keys()
    client = login(app.test_client(), viewer)
    page = client.get("/cp/integrations").get_data(as_text=True)
    assert "Owner&#39;s key" in page and "Create a key" not in page and "/revoke" not in page
    assert "Owners and managers of your team create and revoke keys" in page
    assert create_key(client).status_code == 403
    assert client.post(f"/cp/integrations/keys/{row.id}/revoke").status_code == 403
    assert len(keys()) == 1 and keys()[0].revoked_at is None


def test_another_partner_neither_sees_nor_revokes_a_key(app):
    partner, other = factories.make_partner(), factories.make_partner(company="Other Co")
    db.session.commit()
    api_keys.create(partner.user, "Private key", ["leads:read"])
    db.session.commit()
    [row] = keys()
    client = login(app.test_client(), other.user)
    assert "Private key" not in client.get("/cp/integrations").get_data(as_text=True)
    for method in ("GET", "POST"):
        for headers in ({}, HTMX):
            answer = client.open(f"/cp/integrations/keys/{row.id}/revoke", method=method, headers=headers)
            assert answer.status_code == 404
    assert client.post(f"/cp/integrations/keys/{uuid.uuid4()}/revoke").status_code == 404
    assert keys()[0].revoked_at is None


def test_the_secret_is_never_stored_and_a_twin_gets_the_page_back(app):
    """The form is idempotent (a double click makes one key), and the answer that shows the secret is not kept as
    the idempotency key's answer: the twin is sent back to the page, which shows the key without its secret."""
    partner = factories.make_partner()
    db.session.commit()
    owner = login(app.test_client(), partner.user)
    key = uuid.uuid4().hex
    first = create_key(owner, idempotency_key=key)
    secret = secret_in(first)
    twin = create_key(owner, idempotency_key=key)
    assert len(keys()) == 1 and secret
    assert twin.headers.get("Idempotent-Replayed") == "true" and secret not in twin.get_data(as_text=True)
    assert twin.headers.get("HX-Refresh") == "true"
    stored = [repr(row.response) for row in db.session.scalars(sa.select(IdempotencyKey))]
    assert stored and not any(secret in text for text in stored)


def test_staff_issue_a_trusted_supplier_key_whose_leads_enter_approved(app):
    admin = factories.make_user("admin")
    supplier = factories.make_partner(company="Supplier Co")
    factories.make_partner(company="Quiet Co")
    db.session.commit()
    staff = login(app.test_client(), admin)
    page = staff.get("/admin/api-keys").get_data(as_text=True)
    assert "Supplier Co" in page and "leads:trusted" in page and "trusted supplier" in page

    answer = staff.post(
        "/admin/api-keys",
        data={"partner": str(supplier.id), "name": "Supplier feed", "scopes": ["leads:write", "leads:trusted"]},
        headers=HTMX,
    )
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    secret = secret_in(answer)
    [row] = keys()
    assert row.partner_id == supplier.id and row.user_id == supplier.user.id and row.created_by == admin.id
    assert row.trusted
    client = app.test_client()
    lead = post_lead(client, key_headers(secret), BODY)
    assert lead.status_code == 201 and lead.json["intake_status"] == "approved"
    assert lead.json["originated_by"] == str(supplier.id)

    listed = staff.get("/admin/api-keys").get_data(as_text=True)
    assert secret not in listed and "Supplier feed" in listed and f"acts for {supplier.user.display_name}" in listed


def test_staff_filter_by_partner_and_revoke_any_key(app):
    admin = factories.make_user("admin")
    north, south = factories.make_partner(company="North Co"), factories.make_partner(company="South Co")
    db.session.commit()
    api_keys.create(north.user, "North key", ["leads:read"])
    _key, south_secret = api_keys.create(south.user, "South key", ["leads:read"])
    db.session.commit()
    staff = login(app.test_client(), admin)
    filtered = staff.get(f"/admin/api-keys?partner={south.id}", headers=HTMX)
    body = filtered.get_data(as_text=True)
    assert filtered.status_code == 200 and "South key" in body and "North key" not in body and "<html" not in body
    assert "North key" in staff.get("/admin/api-keys").get_data(as_text=True)

    south_key = next(key for key in keys() if key.name == "South key")
    assert me(app.test_client(), south_secret).status_code == 200
    answer = staff.post(f"/admin/api-keys/{south_key.id}/revoke")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/api-keys")
    assert me(app.test_client(), south_secret).status_code == 401
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "api_key.revoked")).one()
    assert event.actor_id == admin.id and event.entity_id == str(south_key.id)


def test_issuing_needs_a_partner_with_an_active_owner(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Ownerless Co")
    partner.user.membership.status = "deactivated"
    db.session.commit()
    staff = login(app.test_client(), admin)
    no_partner = staff.post("/admin/api-keys", data={"name": "Feed", "scopes": ["leads:write"]}, headers=HTMX)
    assert no_partner.status_code == 422 and "Choose the partner the key is for." in no_partner.get_data(as_text=True)
    ownerless = staff.post(
        "/admin/api-keys", data={"partner": str(partner.id), "name": "Feed", "scopes": ["leads:write"]}, headers=HTMX
    )
    body = ownerless.get_data(as_text=True)
    assert ownerless.status_code == 422 and 'id="partner-error"' in body and "no active owner" in body
    assert keys() == []
