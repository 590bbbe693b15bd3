"""Partners and teams through the API (SPEC 9.1): admins decide on partners with the pages' operations (and their
refusals, 409); staff search them; a partner's owner manages the team (roles, deactivation, invitations) under
the pages' rules, and a deactivated member's or a suspended partner's credentials stop working at once."""

import uuid

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, ChannelPartner, EmailOutbox, PartnerInvite, PartnerMember, User
from tests import factories
from tests.api_support import bearer, key_for, key_headers, token_for


def headers_of(user):
    return bearer(token_for(user))


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def test_admins_approve_reject_suspend_and_reactivate(client):
    admin = factories.make_user("admin")
    pending = factories.make_partner(status="pending", company="Newco")
    unconfirmed = factories.make_partner(status="pending", company="Quietco")
    unconfirmed.user.email_confirmed_at = None
    to_reject = factories.make_partner(status="pending", company="Nopeco")
    db.session.commit()
    headers = headers_of(admin)

    approved = client.post(f"/api/v1/partners/{pending.id}/approve", headers=headers)
    assert approved.status_code == 200 and approved.json["status"] == "approved" and approved.json["approved_at"]
    assert fresh(User, pending.user_id).status == "active"
    assert db.session.scalar(sa.select(EmailOutbox.template).where(EmailOutbox.to_email == pending.user.email)) == (
        "welcome_approved"
    )
    again = client.post(f"/api/v1/partners/{pending.id}/approve", headers=headers)
    assert again.status_code == 409 and again.json["detail"] == "Only pending or rejected partners can be approved."
    waiting = client.post(f"/api/v1/partners/{unconfirmed.id}/approve", headers=headers)
    assert waiting.status_code == 409 and "confirmed" in waiting.json["detail"]
    assert fresh(ChannelPartner, unconfirmed.id).status == "pending"

    rejected = client.post(
        f"/api/v1/partners/{to_reject.id}/reject", json={"note": "Outside our area."}, headers=headers
    )
    assert rejected.status_code == 200 and rejected.json["review_note"] == "Outside our area."
    too_long = client.post(f"/api/v1/partners/{unconfirmed.id}/reject", json={"note": "x" * 2001}, headers=headers)
    assert too_long.status_code == 422 and "note" in too_long.json["errors"]

    member = factories.make_member(pending, "manager")
    db.session.commit()
    member_token, member_key = token_for(member), key_for(member, ["partners:read"])
    assert client.get("/api/v1/auth/me", headers=bearer(member_token)).status_code == 200
    suspended = client.post(f"/api/v1/partners/{pending.id}/suspend", headers=headers)
    assert suspended.status_code == 200 and suspended.json["status"] == "suspended"
    assert client.get("/api/v1/auth/me", headers=bearer(member_token)).status_code == 401  # sessions ended
    assert client.get(f"/api/v1/partners/{pending.id}", headers=key_headers(member_key)).status_code == 403
    assert client.post(f"/api/v1/partners/{pending.id}/suspend", headers=headers).status_code == 409
    back = client.post(f"/api/v1/partners/{pending.id}/reactivate", headers=headers)
    assert back.status_code == 200 and back.json["status"] == "approved"
    assert client.get(f"/api/v1/partners/{pending.id}", headers=key_headers(member_key)).status_code == 200
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(pending.id))).all()
    assert {"cp.approved", "cp.suspended", "cp.reactivated"} <= set(actions)


def test_staff_list_and_search_partners_and_a_partner_reads_only_its_own(client):
    admin = factories.make_user("admin")
    acme = factories.make_partner(company="Acme 100% Solar")
    other = factories.make_partner(company="Globex")
    factories.make_partner(status="pending", company="Acme Pending")
    db.session.commit()
    headers = headers_of(admin)
    everyone = client.get("/api/v1/partners", headers=headers).json["data"]
    assert len(everyone) == 3 and everyone[0]["company_name"] == "Acme Pending"  # newest first
    approved = client.get("/api/v1/partners?status=approved&q=acme", headers=headers).json["data"]
    assert [p["id"] for p in approved] == [str(acme.id)]
    literal = client.get("/api/v1/partners", query_string={"q": "100%"}, headers=headers).json["data"]
    assert [p["company_name"] for p in literal] == ["Acme 100% Solar"]  # % is a character, not a wildcard
    assert client.get("/api/v1/partners", query_string={"q": "%"}, headers=headers).json["data"][0]["id"] == str(
        acme.id
    )
    by_email = client.get("/api/v1/partners", query_string={"q": other.user.email}, headers=headers).json["data"]
    assert [p["id"] for p in by_email] == [str(other.id)]
    assert client.get("/api/v1/partners?status=gone", headers=headers).status_code == 422

    mine = client.get(f"/api/v1/partners/{acme.id}", headers=headers_of(acme.user))
    assert mine.status_code == 200 and mine.json["capabilities"] == {
        "originates": True,
        "works": True,
        "buys": False,
        "supplies": False,
    }
    assert client.get(f"/api/v1/partners/{other.id}", headers=headers_of(acme.user)).status_code == 404
    assert client.get("/api/v1/partners", headers=headers_of(acme.user)).status_code == 403


def test_the_owner_manages_the_team(client):
    partner = factories.make_partner()
    owner = partner.user
    viewer = factories.make_member(partner, "viewer")
    db.session.commit()
    headers = headers_of(owner)
    viewer_membership = viewer.membership.id
    owner_membership = owner.membership.id

    team = client.get(f"/api/v1/partners/{partner.id}/members", headers=headers).json["data"]
    assert {(m["email"], m["role"]) for m in team} == {(owner.email, "owner"), (viewer.email, "viewer")}

    promoted = client.post(
        f"/api/v1/partners/{partner.id}/members/{viewer_membership}/role", json={"role": "manager"}, headers=headers
    )
    assert promoted.status_code == 200 and promoted.json["role"] == "manager"
    bad_role = client.post(
        f"/api/v1/partners/{partner.id}/members/{viewer_membership}/role", json={"role": "boss"}, headers=headers
    )
    assert bad_role.status_code == 422 and "role" in bad_role.json["errors"]
    last_owner = client.post(
        f"/api/v1/partners/{partner.id}/members/{owner_membership}/role", json={"role": "viewer"}, headers=headers
    )
    assert last_owner.status_code == 409 and "needs an owner" in last_owner.json["detail"]
    assert fresh(PartnerMember, owner_membership).role == "owner"

    member_token = token_for(viewer)
    member_key = key_for(viewer, ["leads:read"])
    off = client.post(f"/api/v1/partners/{partner.id}/members/{viewer_membership}/deactivate", headers=headers)
    assert off.status_code == 200 and off.json["status"] == "deactivated" and off.json["deactivated_at"]
    assert client.get("/api/v1/auth/me", headers=bearer(member_token)).status_code == 401
    assert client.get("/api/v1/leads", headers=key_headers(member_key)).status_code == 403
    assert (
        client.post(
            f"/api/v1/partners/{partner.id}/members/{viewer_membership}/deactivate", headers=headers
        ).status_code
        == 409
    )
    on = client.post(f"/api/v1/partners/{partner.id}/members/{viewer_membership}/reactivate", headers=headers)
    assert on.status_code == 200 and on.json["status"] == "active"
    assert client.get("/api/v1/leads", headers=key_headers(member_key)).status_code == 200


def test_invitations(client, app):
    partner = factories.make_partner(company="Inviting Co")
    manager = factories.make_member(partner, "manager")
    taken = factories.make_user("admin", email="taken@example.test")
    db.session.commit()
    headers = headers_of(partner.user)
    made = client.post(
        f"/api/v1/partners/{partner.id}/invites",
        json={"email": "New.Person@Example.test", "role": "viewer"},
        headers=headers,
    )
    assert made.status_code == 201 and made.json["email"] == "new.person@example.test" and made.json["state"] == "open"
    assert db.session.scalar(
        sa.select(EmailOutbox.template).where(EmailOutbox.to_email == "new.person@example.test")
    ) == ("member_invite")
    listed = client.get(f"/api/v1/partners/{partner.id}/invites", headers=headers).json["data"]
    assert [i["id"] for i in listed] == [made.json["id"]]
    existing = client.post(f"/api/v1/partners/{partner.id}/invites", json={"email": taken.email}, headers=headers)
    assert existing.status_code == 409 and "email" in existing.json["errors"]
    assert (
        client.post(f"/api/v1/partners/{partner.id}/invites", json={"email": "nope"}, headers=headers).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/v1/partners/{partner.id}/invites", json={"email": "m@example.test"}, headers=headers_of(manager)
        ).status_code
        == 403
    )  # the team is the owner's

    revoked = client.post(f"/api/v1/partners/{partner.id}/invites/{made.json['id']}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.json["state"] == "revoked"
    assert (
        client.post(f"/api/v1/partners/{partner.id}/invites/{made.json['id']}/revoke", headers=headers).status_code
        == 409
    )
    assert client.get(f"/api/v1/partners/{partner.id}/invites", headers=headers).json["data"] == []
    assert fresh(PartnerInvite, uuid.UUID(made.json["id"])).revoked_at is not None


def test_invitations_are_rate_limited_with_retry_after(client, app):
    app.config["STAFF_INVITE_RATE_LIMIT"] = "2 per hour"
    try:
        partner = factories.make_partner()
        db.session.commit()
        headers = headers_of(partner.user)
        codes = [
            client.post(f"/api/v1/partners/{partner.id}/invites", json={"email": f"p{n}@example.test"}, headers=headers)
            for n in range(3)
        ]
        assert [c.status_code for c in codes] == [201, 201, 429]
        assert int(codes[2].headers["Retry-After"]) > 0 and codes[2].mimetype == "application/problem+json"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PartnerInvite)) == 2
    finally:
        app.config["STAFF_INVITE_RATE_LIMIT"] = "20 per hour"
