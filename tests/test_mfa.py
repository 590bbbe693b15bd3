"""Two-factor authentication, recovery codes, the security page, the second login step and new-device emails
(issue 17 item 7), all through the app as a user meets them."""

import re
import threading
import uuid

import pyotp
import pytest
import sqlalchemy as sa

from app.accounts import mfa, security
from app.comms import notifications
from app.crypto import decrypt
from app.extensions import db
from app.models import AuditEvent, MfaCredential, MfaRecoveryCode, UserSession
from tests import factories
from tests.access_table import ROUTES
from tests.conftest import is_postgres, login, requires_postgres
from tests.world import build_world

T0 = 1_900_000_005  # a fixed moment, 5 s into a 30-second time step
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def code(self, secret: str, offset: int = 0) -> str:
        """The app's code `offset` seconds from now."""
        return pyotp.TOTP(secret).at(self.now + offset)


@pytest.fixture
def clock(monkeypatch):
    """TOTP time under the test's control (the codes a phone would show at that moment)."""
    fixed = Clock()
    monkeypatch.setattr(mfa, "clock", fixed)
    return fixed


def enrolled(user, clock) -> tuple[str, list[str]]:
    """Turn MFA on for `user` directly (secret, recovery codes); the step used is spent, as after a real enrolment."""
    secret = mfa.start_enrolment(user).secret
    clock.now -= 30
    codes = mfa.confirm_enrolment(user, clock.code(secret))
    clock.now += 30
    db.session.commit()
    return secret, codes


def password_step(client, user, next_path=None, address="127.0.0.1"):
    path = "/auth/login" + (f"?next={next_path}" if next_path else "")
    return client.post(
        path,
        data={"email": user.email, "password": factories.PASSWORD},
        environ_base={"REMOTE_ADDR": address},
        headers={"User-Agent": BROWSER},
    )


def code_step(client, code, address="127.0.0.1"):
    return client.post("/auth/mfa", data={"code": code}, environ_base={"REMOTE_ADDR": address})


def logged_in(client) -> bool:
    return client.get("/notifications/badge").status_code == 200


def audit_actions(user) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.entity_id == str(user.id))
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
    )


def shown_codes(html: str) -> list[str]:
    block = re.search(r'<ol class="recovery-codes[^>]*>(.*?)</ol>', html, re.S)
    return re.findall(r"<li>([a-z0-9-]+)</li>", block.group(1)) if block else []


# --- enrolment on the security page --------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_key_then_ten_codes_once(login_as, clock):
    partner = factories.make_partner()
    db.session.commit()
    client = login_as(partner.user)
    page = client.get("/account/security").get_data(as_text=True)
    assert "Set up two-factor authentication" in page and 'class="mfa-qr"' not in page

    assert client.post("/account/security/mfa/start").status_code == 303
    page = client.get("/account/security").get_data(as_text=True)
    secret = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert re.search(r'<svg[^>]*class="mfa-qr"', page) and "<script" not in page.split('id="mfa-card"')[1]
    uri = mfa.provisioning_uri(partner.user, secret)
    assert uri.startswith("otpauth://totp/LeadFlow%20PM:") and "issuer=LeadFlow%20PM" in uri
    assert partner.user.email.replace("@", "%40") in uri
    assert client.post("/account/security/mfa/start").status_code == 303  # a second click keeps the same key
    assert secret in client.get("/account/security").get_data(as_text=True).replace(" ", "")

    wrong = client.post("/account/security/mfa/confirm", data={"confirm-code": "000000"})
    assert wrong.status_code == 422
    assert re.search(r'id="confirm-code-error">[^<]*not right', wrong.get_data(as_text=True))
    assert not mfa.is_enabled(partner.user)

    done = client.post("/account/security/mfa/confirm", data={"confirm-code": clock.code(secret)})
    assert done.status_code == 200
    codes = shown_codes(done.get_data(as_text=True))
    assert (
        len(codes) == 10
        and len(set(codes)) == 10
        and all(re.fullmatch(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", c) for c in codes)
    )
    assert mfa.is_enabled(partner.user)

    again = client.get("/account/security").get_data(as_text=True)
    assert shown_codes(again) == [] and not any(code in again for code in codes)
    assert 'id="codes-left">10<' in again and 'id="mfa-secret"' not in again
    assert audit_actions(partner.user) == ["mfa.enrolment_started", "mfa.enabled"]

    # Only digests are stored: neither the plain codes nor anything that contains them.
    hashes = db.session.scalars(sa.select(MfaRecoveryCode.code_hash)).all()
    assert len(hashes) == 10 and not any(code.replace("-", "") in h for code in codes for h in hashes)


def test_the_raw_column_never_holds_the_plain_secret(login_as, clock):
    user = factories.make_user("admin")
    db.session.commit()
    secret, _codes = enrolled(user, clock)
    raw = db.session.execute(sa.text("SELECT secret FROM mfa_credentials")).scalar_one()
    assert secret not in raw and secret.lower() not in raw.lower()
    assert decrypt(raw) == secret
    assert db.session.scalar(sa.select(MfaCredential.secret)) == secret  # the model reads it back


def test_cancelling_a_set_up_forgets_the_pending_key(login_as, clock):
    client = login_as("admin")
    client.post("/account/security/mfa/start")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MfaCredential)) == 1
    assert client.post("/account/security/mfa/cancel").status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MfaCredential)) == 0
    assert client.post("/account/security/mfa/confirm", data={"confirm-code": "123456"}).status_code == 409


# --- the second login step -----------------------------------------------------------------------------------


def test_a_password_alone_does_not_log_in_a_user_with_mfa(app, clock):
    partner = factories.make_partner()
    db.session.commit()
    secret, _ = enrolled(partner.user, clock)
    client = app.test_client()
    response = password_step(client, partner.user, next_path="/cp/profile")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/mfa"
    assert not logged_in(client)
    assert client.get("/cp/").headers["Location"].startswith("/auth/login")
    page = client.get("/auth/mfa")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.get_data(as_text=True)

    wrong = code_step(client, "123456" if clock.code(secret) != "123456" else "654321")
    assert wrong.status_code == 422 and "not right" in wrong.get_data(as_text=True)
    assert not logged_in(client)

    passed = code_step(client, clock.code(secret))
    assert passed.status_code == 302 and passed.headers["Location"] == "/cp/profile"  # the `next` survived
    assert client.get("/cp/").status_code == 200


def test_a_code_is_accepted_once_and_a_replay_is_refused(app, clock):
    user = factories.make_user("admin")
    db.session.commit()
    secret, _ = enrolled(user, clock)
    code = clock.code(secret)
    first = app.test_client()
    password_step(first, user)
    assert code_step(first, code).status_code == 302 and logged_in(first)

    thief = app.test_client()  # saw the same code over the user's shoulder, within its 30 seconds
    password_step(thief, user)
    replay = code_step(thief, code)
    assert replay.status_code == 422 and not logged_in(thief)

    clock.now += 30  # the next step's code works
    assert code_step(thief, clock.code(secret)).status_code == 302


def test_the_previous_steps_code_is_accepted_once_and_the_window_is_one_step(app, clock):
    user = factories.make_user("admin")
    db.session.commit()
    secret, _ = enrolled(user, clock)
    clock.now += 300  # well past the enrolment's step
    browser = app.test_client()
    password_step(browser, user)
    assert code_step(browser, clock.code(secret, -60)).status_code == 422  # two steps old: outside the window
    late = clock.code(secret, -30)  # typed just as the phone moved on
    assert code_step(browser, late).status_code == 302

    again = app.test_client()
    password_step(again, user)
    assert code_step(again, late).status_code == 422  # that step is spent
    assert code_step(again, clock.code(secret)).status_code == 302  # the current step is later: accepted

    ahead = app.test_client()
    password_step(ahead, user)
    assert code_step(ahead, clock.code(secret, 30)).status_code == 302  # a phone one step fast


def test_a_recovery_code_works_once(app, clock):
    partner = factories.make_partner()
    db.session.commit()
    _secret, codes = enrolled(partner.user, clock)
    browser = app.test_client()
    password_step(browser, partner.user)
    used = code_step(browser, codes[3].upper().replace("-", " "))  # spaces and capitals as people type them
    assert used.status_code == 302
    assert "9 left" in browser.get("/cp/").get_data(as_text=True)  # logged in, and told how many are left
    assert "mfa.recovery_code_used" in audit_actions(partner.user)

    other = app.test_client()
    password_step(other, partner.user)
    assert code_step(other, codes[3]).status_code == 422 and not logged_in(other)
    assert code_step(other, codes[4]).status_code == 302
    assert mfa.recovery_codes_left(partner.user) == 8


def test_pending_login_expires_after_five_minutes(app, clock):
    user = factories.make_user("admin")
    db.session.commit()
    secret, _ = enrolled(user, clock)

    def aged(seconds):
        browser = app.test_client()
        password_step(browser, user)
        with browser.session_transaction() as session:
            pending = dict(session["mfa_pending"])
            pending["at"] -= seconds
            session["mfa_pending"] = pending
        return browser

    slow = aged(301)
    response = code_step(slow, clock.code(secret))
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert not logged_in(slow)
    assert "longer than five minutes" in slow.get("/auth/login").get_data(as_text=True)
    assert slow.get("/auth/mfa").headers["Location"] == "/auth/login"  # the pending login is gone

    clock.now += 30
    in_time = aged(290)
    assert code_step(in_time, clock.code(secret)).status_code == 302 and logged_in(in_time)


def test_a_password_change_voids_a_pending_login(app, clock):
    user = factories.make_user("admin")
    db.session.commit()
    secret, _ = enrolled(user, clock)
    browser = app.test_client()
    password_step(browser, user)
    user.session_version += 1  # e.g. the password was changed meanwhile
    db.session.commit()
    assert code_step(browser, clock.code(secret)).headers["Location"] == "/auth/login"
    assert not logged_in(browser)


def test_the_second_step_is_limited_per_account(app, clock):
    user = factories.make_user("admin")
    db.session.commit()
    secret, _ = enrolled(user, clock)
    browser = app.test_client()
    password_step(browser, user)
    for _ in range(5):
        assert code_step(browser, "000000").status_code == 422
    blocked = code_step(browser, clock.code(secret))  # even the right code waits
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert not logged_in(browser)

    elsewhere = app.test_client()  # the same account from another address: its bucket is full too
    password_step(elsewhere, user, address="203.0.113.50")
    refused = code_step(elsewhere, clock.code(secret), address="203.0.113.50")
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_the_second_step_is_limited_per_address(app, clock):
    first, second = factories.make_user("admin"), factories.make_user("super_admin")
    db.session.commit()
    _, _ = enrolled(first, clock)
    secret, _ = enrolled(second, clock)
    attacker = app.test_client()
    password_step(attacker, first, address="198.51.100.9")
    for _ in range(5):
        assert code_step(attacker, "000000", address="198.51.100.9").status_code == 422

    same_address = app.test_client()  # another account, the same address
    password_step(same_address, second, address="198.51.100.9")
    refused = code_step(same_address, clock.code(secret), address="198.51.100.9")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1

    other_address = app.test_client()
    password_step(other_address, second, address="198.51.100.10")
    assert code_step(other_address, clock.code(secret), address="198.51.100.10").status_code == 302


# --- recovery codes and turning MFA off ----------------------------------------------------------------------


def test_new_recovery_codes_need_a_current_code_and_void_the_old_ones(app, login_as, clock):
    user = factories.make_user("admin")
    db.session.commit()
    secret, old_codes = enrolled(user, clock)
    client = login_as(user)
    refused = client.post("/account/security/recovery-codes", data={"regenerate-code": "000000"})
    assert refused.status_code == 422 and 'id="regenerate-code-error"' in refused.get_data(as_text=True)
    assert mfa.recovery_codes_left(user) == 10

    clock.now += 30
    made = client.post("/account/security/recovery-codes", data={"regenerate-code": clock.code(secret)})
    new_codes = shown_codes(made.get_data(as_text=True))
    assert made.status_code == 200 and len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert "mfa.recovery_codes_regenerated" in audit_actions(user)
    replayed = client.post("/account/security/recovery-codes", data={"regenerate-code": clock.code(secret)})
    assert replayed.status_code == 422  # that step is spent

    browser = app.test_client()
    password_step(browser, user)
    assert code_step(browser, old_codes[0]).status_code == 422
    assert code_step(browser, new_codes[0]).status_code == 302


def test_turning_mfa_off_needs_the_password_and_a_code(app, login_as, clock):
    partner = factories.make_partner()
    db.session.commit()
    secret, _ = enrolled(partner.user, clock)
    client = login_as(partner.user)
    clock.now += 30
    code = clock.code(secret)

    bad_password = client.post(
        "/account/security/mfa/disable", data={"disable-password": "wrong-one", "disable-code": code}
    )
    assert bad_password.status_code == 422 and 'id="disable-password-error"' in bad_password.get_data(as_text=True)
    no_code = client.post("/account/security/mfa/disable", data={"disable-password": factories.PASSWORD})
    assert no_code.status_code == 422 and 'id="disable-code-error"' in no_code.get_data(as_text=True)
    bad_code = client.post(
        "/account/security/mfa/disable", data={"disable-password": factories.PASSWORD, "disable-code": "000000"}
    )
    assert bad_code.status_code == 422 and mfa.is_enabled(partner.user)

    done = client.post(
        "/account/security/mfa/disable", data={"disable-password": factories.PASSWORD, "disable-code": code}
    )
    assert done.status_code == 303 and not mfa.is_enabled(partner.user)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MfaRecoveryCode)) == 0
    assert audit_actions(partner.user)[-1] == "mfa.disabled"

    browser = app.test_client()  # the password alone logs in again
    assert password_step(browser, partner.user).headers["Location"] == "/cp/"


def test_staff_cannot_turn_mfa_off_where_it_is_required(app, login_as, clock, monkeypatch):
    monkeypatch.setitem(app.config, "MFA_REQUIRED_FOR_STAFF", True)
    admin = factories.make_user("admin")
    db.session.commit()
    secret, _ = enrolled(admin, clock)
    client = login_as(admin)
    page = client.get("/account/security").get_data(as_text=True)
    assert "cannot be turned off" in page and "disable-password" not in page
    clock.now += 30
    refused = client.post(
        "/account/security/mfa/disable",
        data={"disable-password": factories.PASSWORD, "disable-code": clock.code(secret)},
    )
    assert refused.status_code == 409 and "requires two-factor" in refused.get_data(as_text=True)
    assert mfa.is_enabled(admin)


def test_required_mfa_sends_staff_to_enrolment_from_every_page_until_done(app, clock, monkeypatch):
    monkeypatch.setitem(app.config, "MFA_REQUIRED_FOR_STAFF", True)
    world = build_world()
    admin, partner = world["users"]["admin"], world["users"]["cp"]
    client = login(app.test_client(), admin)
    open_pages = {"account.security", "core.healthz", "core.index"}
    visited = 0
    for key, (path, expected) in ROUTES.items():
        method, endpoint = key.split(" ", 1)
        # sign-in steps, and pages for anyone (the request form, the API reference)
        public = endpoint.startswith(("auth.", "public.")) or expected["anon"] == 200
        if method != "GET" or expected["admin"] != 200 or endpoint in open_pages or public:
            continue
        response = client.get(path.format(**world["ids"]))
        assert response.status_code == 302 and response.headers["Location"] == "/account/security", key
        visited += 1
    assert visited >= 20
    htmx = client.get("/admin/partners", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/account/security"
    page = client.get("/account/security").get_data(as_text=True)
    assert "Your role requires two-factor authentication" in page
    assert client.get("/static/css/app.css").status_code == 200
    assert login(app.test_client(), partner).get("/cp/").status_code == 200  # optional for partners

    client.post("/account/security/mfa/start")
    secret = db.session.scalar(sa.select(MfaCredential.secret))
    assert client.post("/account/security/mfa/confirm", data={"confirm-code": clock.code(secret)}).status_code == 200
    assert client.get("/admin/").status_code == 200 and client.get("/admin/partners").status_code == 200
    assert client.post("/auth/logout").status_code == 302

    clock.now += 30  # next time: password, then the code, then every page
    browser = app.test_client()
    assert password_step(browser, admin).headers["Location"] == "/auth/mfa"
    code_step(browser, clock.code(secret))
    assert browser.get("/admin/").status_code == 200


def test_required_mfa_lets_logout_through(app, monkeypatch):
    monkeypatch.setitem(app.config, "MFA_REQUIRED_FOR_STAFF", True)
    admin = factories.make_user("super_admin")
    db.session.commit()
    browser = app.test_client()
    assert password_step(browser, admin).headers["Location"] == "/super/"
    assert browser.get("/super/").headers["Location"] == "/account/security"
    assert browser.post("/auth/logout").headers["Location"] == "/auth/login"
    assert not logged_in(browser)


# --- new-device email ----------------------------------------------------------------------------------------


def new_sign_in_emails(outbox, user):
    return [m for m in outbox if m["Subject"] == security.NEW_SIGN_IN_SUBJECT and m["To"] == user.email]


def test_a_login_from_a_new_browser_is_emailed_and_a_known_one_is_not(app, mail_outbox):
    partner = factories.make_partner()
    partner.user.email_muted_events = sorted(notifications.EVENTS)  # muting everything does not mute this
    db.session.commit()
    browser = app.test_client()
    assert password_step(browser, partner.user, address="192.0.2.44").status_code == 302
    [email] = new_sign_in_emails(mail_outbox, partner.user)
    text = email.get_body(("plain",)).get_content()
    assert "192.0.2.44" in text and "Chrome on Windows" in text and " UTC" in text
    assert "/account/security" in text
    assert browser.get_cookie("lf_device") is not None

    browser.post("/auth/logout")
    password_step(browser, partner.user, address="192.0.2.44")  # the same browser: it carries the device cookie
    assert len(new_sign_in_emails(mail_outbox, partner.user)) == 1

    password_step(app.test_client(), partner.user)  # another browser
    assert len(new_sign_in_emails(mail_outbox, partner.user)) == 2
    assert "new_sign_in" not in {key for key, _label in notifications.email_events_for(partner.user)}


def test_with_mfa_the_new_device_email_waits_for_the_second_step(app, mail_outbox, clock):
    user = factories.make_user("admin")
    db.session.commit()
    secret, _ = enrolled(user, clock)
    browser = app.test_client()
    password_step(browser, user)
    assert new_sign_in_emails(mail_outbox, user) == [] and browser.get_cookie("lf_device") is None
    code_step(browser, clock.code(secret))
    assert len(new_sign_in_emails(mail_outbox, user)) == 1 and browser.get_cookie("lf_device") is not None


# --- sessions ------------------------------------------------------------------------------------------------


def test_the_sessions_list_shows_only_the_users_own_live_sessions(app):
    partner, stranger = factories.make_partner(), factories.make_partner()
    db.session.commit()
    laptop = app.test_client()
    password_step(laptop, partner.user, address="192.0.2.1")
    phone = app.test_client()
    phone.post(
        "/auth/login",
        data={"email": partner.user.email, "password": factories.PASSWORD},
        environ_base={"REMOTE_ADDR": "192.0.2.2"},
        headers={
            "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile Safari/604.1"
        },
    )
    password_step(app.test_client(), stranger.user, address="203.0.113.77")
    page = laptop.get("/account/security").get_data(as_text=True)
    card = page.split('id="sessions-card"')[1]
    assert card.count('class="list-group-item') == 2 and card.count("This device") == 1
    assert "192.0.2.1" in card and "192.0.2.2" in card and "Safari on iPhone" in card
    assert "203.0.113.77" not in page


def test_ending_another_users_session_is_404_and_changes_nothing(app, login_as):
    partner, stranger = factories.make_partner(), factories.make_partner()
    db.session.commit()
    victim = app.test_client()
    password_step(victim, stranger.user)
    theirs = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == stranger.user.id))
    client = login_as(partner.user)
    assert client.post(f"/account/security/sessions/{theirs.id}/end").status_code == 404
    assert client.post(f"/account/security/sessions/{uuid.uuid4()}/end").status_code == 404
    db.session.expire_all()
    assert db.session.get(UserSession, theirs.id).ended_at is None and logged_in(victim)


def test_ending_a_session_logs_that_browser_out_at_once(app):
    partner = factories.make_partner()
    db.session.commit()
    mine, lost_phone = app.test_client(), app.test_client()
    password_step(mine, partner.user)
    password_step(lost_phone, partner.user)
    assert logged_in(lost_phone)
    rows = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == partner.user.id)).all()
    with lost_phone.session_transaction() as session:
        phone_id = uuid.UUID(session["sid"])

    answer = mine.post(f"/account/security/sessions/{phone_id}/end", headers={"HX-Request": "true"})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" not in body and 'id="sessions-card"' in body and "has ended" in body
    assert lost_phone.get("/cp/").headers["Location"].startswith("/auth/login")
    assert not logged_in(lost_phone) and logged_in(mine)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == len(rows)  # nothing deleted
    assert db.session.get(UserSession, phone_id).ended_at is not None
    assert "session.ended" in [
        a for a in db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.actor_id == partner.user.id))
    ]


def test_end_all_other_sessions_keeps_this_one(app):
    user = factories.make_user("admin")
    db.session.commit()
    browsers = [app.test_client() for _ in range(3)]
    for browser in browsers:
        password_step(browser, user)
    answer = browsers[0].post("/account/security/sessions/end-others")
    assert answer.status_code == 303
    assert "2 other sessions ended." in browsers[0].get("/account/security").get_data(as_text=True)
    assert logged_in(browsers[0]) and not logged_in(browsers[1]) and not logged_in(browsers[2])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 3


def test_ending_this_browsers_own_session_is_logging_out(app):
    user = factories.make_user("admin")
    db.session.commit()
    browser = app.test_client()
    password_step(browser, user)
    with browser.session_transaction() as session:
        own = session["sid"]
    answer = browser.post(f"/account/security/sessions/{own}/end")
    assert answer.headers["Location"] == "/auth/login" and not logged_in(browser)


def test_a_device_is_named_from_its_user_agent():
    assert security.describe_device(BROWSER) == "Chrome on Windows"
    assert security.describe_device("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0") == (
        "Firefox on Linux"
    )
    assert security.describe_device("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Version/17.5 Safari/605.1.15") == (
        "Safari on macOS"
    )
    assert security.describe_device(
        "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/126.0 Safari/537.36 Edg/126.0"
    ) == ("Edge on Windows")
    assert (
        security.describe_device(None) == "Unknown browser"
        and security.describe_device("curl/8.0") == "Unknown browser"
    )


# --- operations and races ------------------------------------------------------------------------------------


def test_the_reset_command_removes_mfa(app, clock):
    user = factories.make_user("admin")
    db.session.commit()
    enrolled(user, clock)
    result = app.test_cli_runner().invoke(args=["reset-mfa", user.email])
    assert result.exit_code == 0, result.output
    assert not mfa.is_enabled(user) and "mfa.reset" in audit_actions(user)
    assert app.test_cli_runner().invoke(args=["reset-mfa", user.email]).exit_code != 0
    assert password_step(app.test_client(), user).headers["Location"] == "/admin/"


@requires_postgres
def test_one_code_sent_from_two_browsers_at_once_logs_in_one(app, clock):
    assert is_postgres()
    user = factories.make_user("admin")
    db.session.commit()
    secret, _ = enrolled(user, clock)
    clock.now += 30
    browsers = [app.test_client() for _ in range(4)]
    for browser in browsers:
        password_step(browser, user)
    code, answers, start = clock.code(secret), [None] * len(browsers), threading.Barrier(len(browsers))
    db.session.remove()

    def send(i):
        start.wait()
        answers[i] = code_step(browsers[i], code).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [302, 422, 422, 422]


@requires_postgres
def test_two_tabs_confirming_at_once_enable_once_with_one_set_of_codes(app, login_as, clock):
    user = factories.make_user("admin")
    db.session.commit()
    tabs = [login_as(user) for _ in range(3)]
    tabs[0].post("/account/security/mfa/start")
    secret = db.session.scalar(sa.select(MfaCredential.secret))
    db.session.remove()
    answers, start = [None] * len(tabs), threading.Barrier(len(tabs))

    def send(i):
        start.wait()
        answers[i] = (
            tabs[i].post("/account/security/mfa/confirm", data={"confirm-code": clock.code(secret)}).status_code
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(tabs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [200, 409, 409]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MfaRecoveryCode)) == 10
