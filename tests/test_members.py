"""A partner's team (issue 17, item 1): invitations by email and by code, roles, deactivation, and what each
member role may do. Emails are read from the memory mail backend."""

import re
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Notification, PartnerInvite, PartnerMember, User
from app.models.base import utcnow
from tests import factories
from tests.conftest import login

INVITE_LINK = re.compile(r"https?://[^/\s]+(/join/[A-Za-z0-9_-]+)")
PASSWORD = "a-good-password"


def _invite(client, email="new.member@partner.test", role="manager"):
    return client.post("/cp/team/invite", data={"email": email, "role": role})


def _link(outbox, email) -> str:
    [message] = [m for m in outbox if m["To"] == email]
    [path] = set(INVITE_LINK.findall(message.get_body(("plain",)).get_content()))
    return path


def _accept(client, path, name="Nia Member"):
    return client.post(path, data={"name": name, "password": PASSWORD, "confirm": PASSWORD})


def test_an_owner_invites_a_member_who_accepts_once_and_works_a_lead(app, mail_outbox):
    partner = factories.make_partner()
    owner = app.test_client()
    login(owner, partner.user)
    assert _invite(owner).status_code == 302
    path = _link(mail_outbox, "new.member@partner.test")
    # only the digest of the link's token is stored
    token = path.rsplit("/", 1)[1]
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(PartnerInvite).where(PartnerInvite.token_hash == token)
        )
        == 0
    )

    guest = app.test_client()
    assert "Join" in guest.get(path).get_data(as_text=True)
    answer = _accept(guest, path)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/cp/")
    member = db.session.scalar(sa.select(User).where(User.email == "new.member@partner.test"))
    assert member.member_role == "manager" and member.partner.id == partner.id

    lead = factories.make_lead(assignee=partner)
    db.session.commit()
    prefix = f"l{lead.id.hex[:12]}"
    moved = guest.post(f"/cp/leads/{lead.id}/stage", data={f"{prefix}-stage": "contacted", f"{prefix}-version": 1})
    db.session.refresh(lead)
    assert moved.status_code == 302 and lead.kanban_stage == "contacted"
    changed = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "lead.stage_changed"))
    assert changed is None or changed.actor_id == member.id
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "member.joined"))
    assert event.actor_id == member.id

    again = app.test_client().post(path, data={"name": "X", "password": PASSWORD, "confirm": PASSWORD})
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)


def test_expired_revoked_forged_and_wrong_account_invitations_are_refused(app, mail_outbox):
    partner = factories.make_partner()
    owner = app.test_client()
    login(owner, partner.user)
    _invite(owner, "late@partner.test")
    _invite(owner, "withdrawn@partner.test")
    late, withdrawn = _link(mail_outbox, "late@partner.test"), _link(mail_outbox, "withdrawn@partner.test")
    row = db.session.scalar(sa.select(PartnerInvite).where(PartnerInvite.email == "late@partner.test"))
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert "expired" in _accept(app.test_client(), late).get_data(as_text=True)
    revoke = db.session.scalar(sa.select(PartnerInvite).where(PartnerInvite.email == "withdrawn@partner.test"))
    assert owner.post(f"/cp/team/invites/{revoke.id}/revoke").status_code == 302
    assert _accept(app.test_client(), withdrawn).status_code == 410
    assert app.test_client().get("/join/not-a-real-token").status_code == 410
    # someone already logged in cannot spend another person's invitation
    _invite(owner, "fresh@partner.test")
    other = app.test_client()
    login(other, factories.make_partner().user)
    assert _accept(other, _link(mail_outbox, "fresh@partner.test")).status_code == 403
    assert db.session.scalar(sa.select(User).where(User.email == "fresh@partner.test")) is None


def test_inviting_an_address_that_has_an_account_is_refused_beside_the_field(app):
    partner = factories.make_partner()
    taken = factories.make_partner().user.email
    owner = app.test_client()
    login(owner, partner.user)
    answer = _invite(owner, taken)
    assert answer.status_code == 409 and "already has a LeadFlow PM account" in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PartnerInvite)) == 0


def test_the_invite_code_makes_viewers_and_a_new_code_retires_the_old(app):
    partner = factories.make_partner()
    owner = app.test_client()
    login(owner, partner.user)
    owner.post("/cp/team/code")
    db.session.refresh(partner)
    code = partner.invite_code
    data = {"invite_code": code, "name": "Vic", "email": "vic@partner.test", "password": PASSWORD, "confirm": PASSWORD}
    joined = app.test_client().post("/join", data=data)
    assert joined.status_code == 302
    viewer = db.session.scalar(sa.select(User).where(User.email == "vic@partner.test"))
    assert viewer.member_role == "viewer" and viewer.partner.id == partner.id
    assert db.session.scalar(sa.select(Notification).where(Notification.user_id == partner.user_id)) is not None

    owner.post("/cp/team/code")
    db.session.refresh(partner)
    assert partner.invite_code != code
    refused = app.test_client().post("/join", data={**data, "email": "late@partner.test"})
    assert refused.status_code == 422 and "invite code is not valid" in refused.get_data(as_text=True)


def test_viewers_read_and_cannot_change_managers_work_but_owners_alone_manage(app):
    partner = factories.make_partner()
    manager = factories.make_member(partner, "manager")
    viewer = factories.make_member(partner, "viewer")
    lead = factories.make_lead(assignee=partner)
    db.session.commit()
    clients = {}
    for name, user in (("manager", manager), ("viewer", viewer)):
        clients[name] = app.test_client()
        login(clients[name], user)
    prefix = f"l{lead.id.hex[:12]}"
    stage = {f"{prefix}-stage": "contacted", f"{prefix}-version": 1}
    assert clients["viewer"].get(f"/cp/leads/{lead.id}").status_code == 200
    assert clients["viewer"].post(f"/cp/leads/{lead.id}/stage", data=stage).status_code == 403
    assert (
        clients["viewer"].post("/cp/leads/assigned/kanban/contacted", data={"card": f"{lead.id}:1"}).status_code == 403
    )
    board = clients["viewer"].get("/cp/leads/assigned/kanban").get_data(as_text=True)
    assert 'data-readonly="true"' in board
    assert 'data-readonly="true"' not in clients["manager"].get("/cp/leads/assigned/kanban").get_data(as_text=True)
    for name in ("manager", "viewer"):
        assert clients[name].get("/cp/team").status_code == 403
        assert clients[name].post("/cp/profile/bank", data={}).status_code == 403
        assert "/cp/team" not in clients[name].get("/cp/").get_data(as_text=True)


def test_deactivating_a_member_ends_their_sessions_at_once_and_blocks_login(app):
    partner = factories.make_partner()
    member = factories.make_member(partner, "manager", password=PASSWORD)
    db.session.commit()
    laptop = app.test_client()
    login(laptop, member)
    assert laptop.get("/cp/").status_code == 200
    owner = app.test_client()
    login(owner, partner.user)
    row = member.membership
    assert owner.post(f"/cp/team/members/{row.id}/deactivate").status_code == 302
    assert laptop.get("/cp/").status_code == 302  # to the login page
    again = app.test_client().post("/auth/login", data={"email": member.email, "password": PASSWORD})
    assert again.status_code == 401
    assert owner.post(f"/cp/team/members/{row.id}/reactivate").status_code == 302
    assert app.test_client().post("/auth/login", data={"email": member.email, "password": PASSWORD}).status_code == 302


def test_a_partner_keeps_an_owner_and_an_owner_cannot_deactivate_themselves(app):
    partner = factories.make_partner()
    second = factories.make_member(partner, "owner")
    db.session.commit()
    owner = app.test_client()
    login(owner, partner.user)
    mine = partner.user.membership
    refused = owner.post(f"/cp/team/members/{mine.id}/deactivate")
    assert refused.status_code == 409 and "cannot deactivate yourself" in refused.get_data(as_text=True)
    assert owner.post(f"/cp/team/members/{second.membership.id}/role", data={"role": "viewer"}).status_code == 302
    # now the first owner is the last one: another owner would be needed to demote them (only owners can)
    db.session.refresh(mine)
    assert mine.role == "owner"
    from app.partners import members

    try:
        members.change_role(mine, "viewer", partner.user)
    except members.MemberError as exc:
        assert "needs an owner" in str(exc)
    else:
        raise AssertionError("the last owner was demoted")
    try:
        members.set_active(mine, partner.user, False)
    except members.MemberError as exc:
        assert "yourself" in str(exc)
    else:
        raise AssertionError("an owner deactivated themselves")


def test_another_partners_member_is_404_everywhere_on_the_team(app):
    partner = factories.make_partner()
    member = factories.make_member(partner, "viewer")
    stranger = app.test_client()
    login(stranger, factories.make_partner().user)
    row = member.membership
    db.session.commit()
    assert stranger.post(f"/cp/team/members/{row.id}/deactivate").status_code == 404
    assert stranger.post(f"/cp/team/members/{row.id}/role", data={"role": "owner"}).status_code == 404
    db.session.refresh(row)
    assert row.status == "active" and row.role == "viewer"


def test_everyone_on_the_team_hears_of_an_assigned_lead_and_suspension_ends_all_their_sessions(app):
    partner = factories.make_partner()
    manager = factories.make_member(partner, "manager")
    admin = factories.make_user("admin")
    lead = factories.make_lead()
    db.session.commit()
    staff = app.test_client()
    login(staff, admin)
    allocated = staff.post(
        f"/admin/leads/{lead.id}/allocate",
        data={"allocate-partner": str(partner.id), "allocate-version": lead.version, "allocate-override_type": ""},
    )
    assert allocated.status_code == 302
    told = set(db.session.scalars(sa.select(Notification.user_id).where(Notification.event == "lead_assigned")))
    assert told == {partner.user_id, manager.id}

    laptop = app.test_client()
    login(laptop, manager)
    assert staff.post(f"/admin/partners/{partner.id}/suspend").status_code == 302
    assert laptop.get("/cp/").status_code == 302


def test_the_activity_feed_shows_who_changed_the_team(app, mail_outbox):
    partner = factories.make_partner()
    member = factories.make_member(partner, "viewer")
    owner = app.test_client()
    login(owner, partner.user)
    owner.post(f"/cp/team/members/{member.membership.id}/role", data={"role": "manager"})
    _invite(owner, "someone@partner.test", "viewer")
    page = owner.get("/cp/activity").get_data(as_text=True)
    assert "role changed" in page and "member: invited" in page and partner.user.email in page
    other = app.test_client()
    login(other, factories.make_partner().user)
    assert "role changed" not in other.get("/cp/activity").get_data(as_text=True)


def test_every_partner_has_its_owner(app):
    partner = factories.make_partner()
    rows = db.session.scalars(sa.select(PartnerMember).where(PartnerMember.partner_id == partner.id)).all()
    assert [(r.user_id, r.role) for r in rows] == [(partner.user_id, "owner")]


def test_an_announcement_reaches_every_active_member_but_not_a_deactivated_one(app):
    partner = factories.make_partner()
    manager = factories.make_member(partner, "manager")
    gone = factories.make_member(partner, "viewer")
    gone.membership.status = "deactivated"
    staff = app.test_client()
    login(staff, factories.make_user("admin"))
    form = {"title": "News", "content": "Hello", "target": "specific", "partners": [str(partner.id)]}
    assert staff.post("/admin/announcements/new", data=form).status_code in (302, 303)
    told = set(db.session.scalars(sa.select(Notification.user_id).where(Notification.reference_type == "announcement")))
    assert told == {partner.user_id, manager.id}
    reader = app.test_client()
    login(reader, manager)
    assert "News" in reader.get("/cp/").get_data(as_text=True)


def test_each_member_sees_only_the_buttons_that_work_for_them(app):
    partner = factories.make_partner()
    clients = {"owner": app.test_client(), "manager": app.test_client(), "viewer": app.test_client()}
    login(clients["owner"], partner.user)
    login(clients["manager"], factories.make_member(partner, "manager"))
    login(clients["viewer"], factories.make_member(partner, "viewer"))
    category = factories.make_category()
    db.session.commit()
    profile = {name: client.get("/cp/profile").get_data(as_text=True) for name, client in clients.items()}
    assert "/cp/profile/bank" in profile["owner"] and "/cp/profile/company" in profile["owner"]
    for name in ("manager", "viewer"):
        assert "/cp/profile/bank" not in profile[name] and "owner edits these details" in profile[name]
    assert f"/cp/profile/content/{category.id}" in profile["manager"]
    assert f"/cp/profile/content/{category.id}" not in profile["viewer"]
    showcase = {name: client.get("/cp/categories").get_data(as_text=True) for name, client in clients.items()}
    assert "Submit a lead" in showcase["manager"] and "Submit a lead" not in showcase["viewer"]


def test_staff_see_the_partners_team_and_activity(app):
    partner = factories.make_partner()
    member = factories.make_member(partner, "viewer")
    owner = app.test_client()
    login(owner, partner.user)
    owner.post(f"/cp/team/members/{member.membership.id}/role", data={"role": "manager"})
    for user, path in (
        (factories.make_user("admin"), "/admin/partners"),
        (factories.make_user("super_admin"), "/super/partners"),
    ):
        staff = app.test_client()
        login(staff, user)
        page = staff.get(f"{path}/{partner.id}").get_data(as_text=True)
        assert member.email in page and "role changed" in page and 'id="partner-activity"' in page
