"""Staff management (issue 17, item 5): /super/staff invites, suspends and reactivates admins and super admins,
`flask create-user` creates them from a shell, and the platform always keeps an active super admin."""

import contextlib
import re
import threading

import pytest
import sqlalchemy as sa

from app.accounts import staff
from app.accounts.operations import AccountError
from app.extensions import db
from app.models import AuditEvent, ChannelPartner, User, UserSession
from tests import factories
from tests.conftest import login, make_app, requires_postgres
from tests.report_summary import record

LINK = re.compile(r"https?://[^/\s]+(/auth/set-password/[A-Za-z0-9_-]+)")
NEW_PASSWORD = "my-staff-password"
HTMX = {"HX-Request": "true"}


def log_in(client, email, password=factories.PASSWORD):
    return client.post("/auth/login", data={"email": email, "password": password})


def invite(client, email="new.admin@example.test", role="admin", name="Nadia Admin", **headers):
    return client.post("/super/staff/invite", data={"name": name, "email": email, "role": role}, headers=headers)


def set_password_links(outbox, address) -> list[str]:
    return [LINK.search(m.get_body(("plain",)).get_content()).group(1) for m in outbox if m["To"] == address]


def choose(client, path, password=NEW_PASSWORD):
    return client.post(path, data={"new_password": password, "confirm": password})


def open_sessions(user) -> int:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    )


def actions_on(user) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(user.id))))


@pytest.fixture
def boss():
    user = factories.make_user("super_admin", name="Sam Boss")
    db.session.commit()
    return user


def test_the_staff_page_lists_admins_and_super_admins_with_status_and_last_login(app, boss):
    factories.make_user("admin", name="Ada Active")
    factories.make_user("admin", status="suspended", name="Sid Suspended")
    factories.make_partner(company="Not Staff Co")
    db.session.commit()
    client = login(app.test_client(), boss)
    log_in(app.test_client(), boss.email)  # a real login sets last_login_at
    page = client.get("/super/staff").get_data(as_text=True)
    assert "Ada Active" in page and "Sid Suspended" in page and "Sam Boss" in page
    assert "Not Staff Co" not in page and "Never" in page
    assert re.search(r"Sam Boss.*?\d{2} \w{3} \d{4} \d{2}:\d{2}", page, re.S)
    assert 'href="/super/staff"' in page  # the sidebar link


def test_an_admin_cannot_open_staff_management(login_as):
    admin_client = login_as("admin")
    assert admin_client.get("/super/staff").status_code == 403
    assert invite(admin_client).status_code == 403
    assert db.session.scalar(sa.select(User).where(User.email == "new.admin@example.test")) is None


def test_an_invited_admin_chooses_a_password_through_the_link_once(app, boss, mail_outbox):
    client = login(app.test_client(), boss)
    response = invite(client)
    assert response.status_code == 303 and response.headers["Location"] == "/super/staff"
    user = db.session.scalar(sa.select(User).where(User.email == "new.admin@example.test"))
    assert (user.role, user.status, user.must_change_password) == ("admin", "active", True)
    assert "invited, password not set" in client.get("/super/staff").get_data(as_text=True)
    assert "staff.invited" in actions_on(user)
    [path] = set_password_links(mail_outbox, user.email)
    assert "Sam Boss has invited you" in mail_outbox[-1].get_body(("plain",)).get_content()
    assert log_in(app.test_client(), user.email, NEW_PASSWORD).status_code == 401  # no password before the link

    visitor = app.test_client()
    assert visitor.get(path).status_code == 200
    assert choose(visitor, path).headers["Location"] == "/auth/login"
    assert choose(visitor, path, "another-staff-password").status_code == 410
    assert log_in(visitor, user.email, NEW_PASSWORD).headers["Location"] == "/admin/"
    assert visitor.get("/admin/").status_code == 200
    db.session.expire_all()
    assert not user.must_change_password and user.email_confirmed_at is not None


def test_a_super_admin_can_be_invited_and_a_new_invitation_voids_the_old_link(app, boss, mail_outbox):
    client = login(app.test_client(), boss)
    invite(client, "second.boss@example.test", role="super_admin", **HTMX)
    user = db.session.scalar(sa.select(User).where(User.email == "second.boss@example.test"))
    assert user.role == "super_admin"
    again = client.post(f"/super/staff/{user.id}/invite-again", headers=HTMX)
    assert again.status_code == 200 and "Invitation sent again" in again.get_data(as_text=True)
    assert "<html" not in again.get_data(as_text=True)  # the row only
    first, second = set_password_links(mail_outbox, user.email)
    assert choose(app.test_client(), first).status_code == 410
    assert choose(app.test_client(), second).status_code == 302
    assert log_in(app.test_client(), user.email, NEW_PASSWORD).headers["Location"] == "/super/"
    # Once they have a password, there is nothing to invite again.
    assert client.post(f"/super/staff/{user.id}/invite-again", headers=HTMX).status_code == 409


@pytest.mark.parametrize(
    "data,field_message",
    [
        ({"name": "X", "email": "taken@example.test", "role": "admin"}, "already exists"),
        ({"name": "X", "email": "not-an-email", "role": "admin"}, "Enter a valid email address"),
        ({"name": "X", "email": "ok@example.test", "role": "channel_partner"}, "Not a valid choice"),
        ({"name": "", "email": "ok@example.test", "role": "admin"}, "This field is required"),
    ],
)
def test_a_bad_invitation_is_refused_beside_the_field(app, boss, data, field_message):
    factories.make_user("admin", email="taken@example.test")
    db.session.commit()
    client = login(app.test_client(), boss)
    response = client.post("/super/staff/invite", data=data, headers=HTMX)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert field_message in body and 'id="invite-staff"' in body and "<html" not in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


def test_suspending_an_admin_ends_their_sessions_at_once_and_reactivating_lets_them_back(app, boss):
    admin = factories.make_user("admin", email="ops@example.test")
    db.session.commit()
    admin_browser = app.test_client()
    assert log_in(admin_browser, admin.email).status_code == 302
    other_browser = login(app.test_client(), admin)
    assert admin_browser.get("/admin/").status_code == 200 and open_sessions(admin) == 2

    client = login(app.test_client(), boss)
    response = client.post(f"/super/staff/{admin.id}/suspend", headers=HTMX)
    assert response.status_code == 200 and "their sessions have ended" in response.get_data(as_text=True)
    assert f'id="staff-{admin.id}"' in response.get_data(as_text=True)
    for browser in (admin_browser, other_browser):
        assert browser.get("/admin/").headers["Location"].startswith("/auth/login")
    assert open_sessions(admin) == 0
    assert log_in(app.test_client(), admin.email).status_code == 401

    assert client.post(f"/super/staff/{admin.id}/reactivate").status_code == 302  # without HTMX: back to the page
    assert log_in(app.test_client(), admin.email).headers["Location"] == "/admin/"
    assert {"staff.suspended", "staff.reactivated"} <= set(actions_on(admin))
    assert client.post(f"/super/staff/{admin.id}/reactivate", headers=HTMX).status_code == 409  # already active


def test_the_last_active_super_admin_cannot_be_suspended_and_nobody_suspends_themselves(app, boss):
    client = login(app.test_client(), boss)
    alone = client.post(f"/super/staff/{boss.id}/suspend", headers=HTMX)
    assert alone.status_code == 409 and "last active super admin" in alone.get_data(as_text=True)

    second = factories.make_user("super_admin", name="Second Boss")
    db.session.commit()
    own = client.post(f"/super/staff/{boss.id}/suspend")
    assert own.status_code == 409 and "cannot suspend your own account" in own.get_data(as_text=True)
    db.session.expire_all()
    assert boss.status == "active"

    assert client.post(f"/super/staff/{second.id}/suspend", headers=HTMX).status_code == 200
    db.session.expire_all()
    assert second.status == "suspended"
    # From a shell (no actor) the rule holds as well.
    with pytest.raises(AccountError, match="last active super admin"):
        staff.suspend(boss, None)
    db.session.rollback()


def test_partners_and_unknown_ids_are_not_staff(app, boss):
    partner = factories.make_partner()
    db.session.commit()
    client = login(app.test_client(), boss)
    assert client.post(f"/super/staff/{partner.user_id}/suspend").status_code == 404
    assert client.post("/super/staff/not-an-id/suspend").status_code == 404
    db.session.expire_all()
    assert partner.user.status == "active"


@requires_postgres
def test_two_super_admins_suspending_each_other_at_once_leave_one_active(app, monkeypatch):
    """Without the row lock both would see two active super admins and both would win (the barrier lets each
    reach that point before either writes); with it the second waits, then sees it would leave nobody."""
    first, second = factories.make_user("super_admin"), factories.make_user("super_admin")
    db.session.commit()
    clients = {user.id: login(app.test_client(), user) for user in (first, second)}
    first_id, second_id = first.id, second.id
    db.session.rollback()
    barrier = threading.Barrier(2, timeout=2)
    counted = staff._active_super_admin_ids

    def count_then_meet():
        ids = counted()
        with contextlib.suppress(threading.BrokenBarrierError):  # the other one waits on the lock: carry on
            barrier.wait()
        return ids

    monkeypatch.setattr(staff, "_active_super_admin_ids", count_then_meet)
    codes = {}

    def suspend(actor_id, target_id):
        codes[actor_id] = clients[actor_id].post(f"/super/staff/{target_id}/suspend", headers=HTMX).status_code

    pairs = ((first_id, second_id), (second_id, first_id))
    threads = [threading.Thread(target=suspend, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    held = sorted(codes.values()) == [200, 409]
    record("staff_rules", mutual_suspensions=1, one_super_admin_kept=int(held))
    assert held, codes
    db.session.expire_all()
    active = db.session.scalars(sa.select(User).where(User.role == "super_admin", User.status == "active")).all()
    assert len(active) == 1


def test_staff_invitations_are_limited_per_inviter(boss):
    app = make_app(STAFF_INVITE_RATE_LIMIT="2 per hour")
    client = login(app.test_client(), boss)
    codes = [invite(client, f"inv{n}@example.test").status_code for n in range(3)]
    assert codes == [303, 303, 429]
    refused = invite(client, "inv9@example.test")
    assert int(refused.headers["Retry-After"]) > 0 and "Too many invitations" in refused.get_data(as_text=True)
    other_boss = factories.make_user("super_admin")
    db.session.commit()
    assert invite(login(app.test_client(), other_boss), "inv10@example.test").status_code == 303


# --- flask create-user --------------------------------------------------------------------------------------


def test_create_user_without_a_password_prints_a_set_password_link(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "Ops@Example.test", "--name", "Olive Ops", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "ops@example.test"))
    assert (user.role, user.status, user.must_change_password) == ("admin", "active", True)
    url = re.search(r"(https?://\S+/auth/set-password/[A-Za-z0-9_-]+)", result.output).group(1)
    assert url.startswith(app.config["PUBLIC_BASE_URL"])
    path = url[len(app.config["PUBLIC_BASE_URL"]) :]
    client = app.test_client()
    assert choose(client, path).status_code == 302
    assert log_in(client, "ops@example.test", NEW_PASSWORD).headers["Location"] == "/admin/"
    assert "staff.created" in actions_on(user)


def test_create_user_with_a_password_from_stdin(app):
    runner = app.test_cli_runner()
    args = ["create-user", "--email", "root@example.test", "--name", "Rita Root", "--role", "superadmin"]
    result = runner.invoke(args=[*args, "--password-stdin"], input="a-strong-root-password\n")
    assert result.exit_code == 0, result.output
    assert "set-password" not in result.output
    user = db.session.scalar(sa.select(User).where(User.email == "root@example.test"))
    assert user.role == "super_admin" and not user.must_change_password
    assert log_in(app.test_client(), user.email, "a-strong-root-password").headers["Location"] == "/super/"

    again = runner.invoke(args=[*args, "--password-stdin"], input="a-strong-root-password\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(args=[*args[:2], "x@example.test", *args[3:], "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "10 to 128" in short.output
    wrong_role = runner.invoke(args=["create-user", "--email", "y@example.test", "--name", "Y", "--role", "cp"])
    assert wrong_role.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_the_demo_shows_staff_states_and_an_unconfirmed_sign_up(app):
    runner = app.test_cli_runner()
    for _ in range(2):  # idempotent
        assert runner.invoke(args=["seed-demo"]).exit_code == 0
    db.session.expire_all()
    people = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.like("%@demo.test")))}
    assert people["former@demo.test"].status == "suspended"
    assert people["invited@demo.test"].must_change_password and people["invited@demo.test"].status == "active"
    assert people["unconfirmed@demo.test"].email_confirmed_at is None
    assert all(
        u.email_confirmed_at for e, u in people.items() if e not in {"unconfirmed@demo.test", "invited@demo.test"}
    )
    assert len(people) == db.session.scalar(sa.select(sa.func.count()).select_from(User))
    client = login(app.test_client(), people["super@demo.test"])
    page = client.get("/super/staff").get_data(as_text=True)
    assert "Casey Former" in page and "invited, password not set" in page
    admin_client = login(app.test_client(), people["admin@demo.test"])
    unconfirmed = people["unconfirmed@demo.test"].partner or db.session.scalar(
        sa.select(ChannelPartner).where(ChannelPartner.user_id == people["unconfirmed@demo.test"].id)
    )
    assert admin_client.post(f"/admin/partners/{unconfirmed.id}/approve").status_code == 409
