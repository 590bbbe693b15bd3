"""Password reset, email confirmation and set-password links (issue 17, item 6), and the limits on sign-up,
reset requests and confirmation resends behind a proxy (item 8). Emails are read from the memory mail backend."""

import re
import statistics
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts import tokens
from app.extensions import db
from app.models import AuditEvent, EmailOutbox, OneTimeToken, User, UserSession
from app.models.base import utcnow
from tests import factories
from tests.conftest import login, make_app, requires_redis
from tests.report_summary import record

NEW_PASSWORD = "a-brand-new-password"
LINK = re.compile(r"https?://[^/\s]+(/auth/(?:reset|set-password|confirm)/[A-Za-z0-9_-]+)")


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def emails_to(outbox, address: str) -> list:
    """The emails with a one-time link sent to `address` (not, say, a new-sign-in notice)."""
    return [m for m in outbox if m["To"] == address and LINK.search(text_of(m))]


def link_in(message) -> str:
    """The path of the one-time link in an email (its text and its HTML carry the same one)."""
    [path] = set(LINK.findall(text_of(message)))
    assert path in message.get_body(("html",)).get_content()
    return path


def ask_reset(client, email, **headers):
    return client.post("/auth/reset", data={"email": email}, headers=headers)


def choose(client, path, password=NEW_PASSWORD, confirm=None):
    return client.post(path, data={"new_password": password, "confirm": confirm or password})


def log_in(client, email, password=factories.PASSWORD):
    return client.post("/auth/login", data={"email": email, "password": password})


def sign_up(client, email="new@partner.test", **headers):
    data = {"company_name": "New Co", "name": "Nia", "email": email, "password": "a-good-password"}
    return client.post("/auth/register", data={**data, "confirm": data["password"]}, headers=headers)


def token_rows(user) -> list[OneTimeToken]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OneTimeToken).where(OneTimeToken.user_id == user.id)))


# --- password reset ---------------------------------------------------------------------------------------


def test_the_login_page_links_to_the_reset_page(client):
    assert 'href="/auth/reset"' in client.get("/auth/login").get_data(as_text=True)
    assert "Forgot your password?" in client.get("/auth/login").get_data(as_text=True)


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, mail_outbox):
    factories.make_partner(email="known@partner.test")
    db.session.commit()
    known = ask_reset(client, "known@partner.test")
    unknown = ask_reset(client, "nobody@partner.test")
    assert known.status_code == unknown.status_code == 200
    same = known.get_data(as_text=True).replace("known@partner.test", "ADDRESS")
    assert same == unknown.get_data(as_text=True).replace("nobody@partner.test", "ADDRESS")
    assert "If an account exists" in same
    assert [m["To"] for m in mail_outbox] == ["known@partner.test"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailOutbox)) == 1


@requires_redis
def test_a_known_and_an_unknown_address_take_the_same_time_with_a_worker(app):
    """With Redis the request only enqueues a job naming the address; the lookup and the email happen in the
    worker, so the answer's time does not tell whether the address has an account."""
    from tests.rq_support import redis_mode

    factories.make_partner(email="timed@partner.test")
    db.session.commit()
    client = app.test_client()

    def timed(email):
        started = time.perf_counter()
        assert ask_reset(client, email).status_code == 200
        return time.perf_counter() - started

    with redis_mode(app, RESET_RATE_LIMIT="100 per hour") as (redis_client, queue):
        timed("warm@partner.test")
        known = statistics.median(timed("timed@partner.test") for _ in range(4))
        unknown = statistics.median(timed(f"ghost{n}@partner.test") for n in range(4))
        from rq import Queue

        assert Queue(queue, connection=redis_client).count == 9  # every request, known or not, is one job
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailOutbox)) == 0  # nothing done in the request
    record("one_time_links", reset_known_ms=round(known * 1000, 1), reset_unknown_ms=round(unknown * 1000, 1))
    assert 0.5 < unknown / known < 2


def test_a_reset_link_works_once_and_ends_every_session(app, client, mail_outbox):
    user = factories.make_partner(email="forgot@partner.test").user
    db.session.commit()
    laptop = app.test_client()
    assert log_in(laptop, user.email).status_code == 302
    phone = login(app.test_client(), user)
    assert laptop.get("/cp/").status_code == phone.get("/cp/").status_code == 200

    ask_reset(client, user.email)
    [email] = emails_to(mail_outbox, user.email)
    path = link_in(email)
    assert "one hour" in text_of(email)
    # Only the digest is stored: not in the token table, not in the outbox row.
    token = path.rsplit("/", 1)[1]
    [row] = token_rows(user)
    assert row.token_hash == tokens.digest(token) and token not in row.token_hash
    assert token not in str(db.session.scalar(sa.select(EmailOutbox.context)))
    assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)

    page = client.get(path)
    assert page.status_code == 200 and "forgot@partner.test" in page.get_data(as_text=True)
    assert client.get(path).status_code == 200  # looking at the form (or a mail scanner) does not spend the link
    response = choose(client, path)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"

    # Both earlier sessions are over, on the server too.
    for other in (laptop, phone):
        assert other.get("/cp/").headers["Location"].startswith("/auth/login")
    db.session.expire_all()
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        )
        == 0
    )
    assert log_in(app.test_client(), user.email).status_code == 401  # the old password is gone
    fresh = app.test_client()
    assert log_in(fresh, user.email, NEW_PASSWORD).headers["Location"] == "/cp/"

    again = client.get(path)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    assert choose(client, path, "yet-another-password").status_code == 410
    assert log_in(app.test_client(), user.email, "yet-another-password").status_code == 401
    actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(user.id))))
    assert {"user.password_reset_requested", "user.password_reset"} <= actions


def test_a_reset_link_expires_after_an_hour(client, mail_outbox):
    user = factories.make_partner(email="late@partner.test").user
    db.session.commit()
    ask_reset(client, user.email)
    path = link_in(emails_to(mail_outbox, user.email)[0])
    [row] = token_rows(user)
    row.created_at, row.expires_at = utcnow() - timedelta(minutes=61), utcnow() - timedelta(minutes=1)
    db.session.commit()
    page = client.get(path)
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    assert choose(client, path).status_code == 410
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 401
    assert log_in(client, user.email).status_code == 302


def test_a_second_request_voids_the_first_link(client, mail_outbox):
    user = factories.make_partner(email="twice@partner.test").user
    db.session.commit()
    ask_reset(client, user.email)
    ask_reset(client, user.email)
    first, second = (link_in(m) for m in emails_to(mail_outbox, user.email))
    assert first != second
    page = client.get(first)
    assert page.status_code == 410 and "newer link" in page.get_data(as_text=True)
    assert choose(client, first).status_code == 410
    assert choose(client, second).status_code == 302
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("status", ["suspended", "rejected"])
def test_a_suspended_or_rejected_user_cannot_reset(client, mail_outbox, status):
    partner = factories.make_partner(status=status, email=f"{status}@partner.test")
    db.session.commit()
    response = ask_reset(client, partner.user.email)
    assert response.status_code == 200 and "If an account exists" in response.get_data(as_text=True)
    assert mail_outbox == []  # the same answer as an unknown address, and nothing sent
    # A link sent before the suspension stops working too (and is not spent by trying).
    token = tokens.issue(partner.user, "reset_password")
    db.session.commit()
    page = client.get(f"/auth/reset/{token}")
    assert page.status_code == 410 and "not active" in page.get_data(as_text=True)
    assert choose(client, f"/auth/reset/{token}").status_code == 410
    assert token_rows(partner.user)[0].used_at is None


def test_a_forged_or_mangled_token_is_not_found(client):
    factories.make_partner()
    db.session.commit()
    for path in ("/auth/reset/" + "A" * 43, "/auth/reset/x", "/auth/reset/" + "x" * 500):
        response = client.get(path)
        assert response.status_code == 404 and "not valid" in response.get_data(as_text=True), path
        assert choose(client, path).status_code == 404


def test_the_new_password_follows_the_password_rules_and_a_refusal_keeps_the_link(client, mail_outbox):
    user = factories.make_partner(email="rules@partner.test").user
    db.session.commit()
    ask_reset(client, user.email)
    path = link_in(mail_outbox[0])
    short = choose(client, path, "short")
    assert short.status_code == 422 and "10 to 128" in short.get_data(as_text=True)
    differ = choose(client, path, NEW_PASSWORD, "something-else-entirely")
    assert differ.status_code == 422 and "Passwords differ." in differ.get_data(as_text=True)
    assert choose(client, path).status_code == 302


def test_two_clicks_at_once_spend_the_link_once(app, mail_outbox):
    """The conditional UPDATE decides: of two submissions racing on one link, exactly one sets a password."""
    user = factories.make_partner(email="race@partner.test").user
    db.session.commit()
    ask_reset(app.test_client(), user.email)
    path = link_in(mail_outbox[0])
    db.session.rollback()
    barrier, codes = threading.Barrier(2), []

    def submit(password):
        client = app.test_client()
        barrier.wait()
        codes.append((choose(client, path, password).status_code, password))

    threads = [threading.Thread(target=submit, args=(f"racing-password-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    held = sorted(code for code, _ in codes) == [302, 410]
    record("one_time_links", races=1, spent_once=int(held))
    assert held, codes
    [winner] = [password for code, password in codes if code == 302]
    assert log_in(app.test_client(), user.email, winner).status_code == 302


# --- email confirmation ------------------------------------------------------------------------------------


def test_sign_up_asks_for_confirmation_and_approval_waits_for_it(app, client, mail_outbox):
    admin = factories.make_user("admin")
    db.session.commit()
    assert sign_up(client).status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "new@partner.test"))
    assert user.email_confirmed_at is None
    [email] = emails_to(mail_outbox, "new@partner.test")
    path = link_in(email)
    assert path.startswith("/auth/confirm/") and "48 hours" in text_of(email)
    pending = client.get("/auth/pending").get_data(as_text=True)
    assert "Please confirm your email address" in pending and "Send the link again" in pending

    admin_client = login(app.test_client(), admin)
    listing = admin_client.get("/admin/partners?tab=pending").get_data(as_text=True)
    assert "email not confirmed" in listing
    assert "email not confirmed" in admin_client.get(f"/admin/partners/{user.partner.id}").get_data(as_text=True)
    refused = admin_client.post(f"/admin/partners/{user.partner.id}/approve", headers={"HX-Request": "true"})
    assert refused.status_code == 409
    assert "has not confirmed their email address" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert user.partner.status == "pending"

    elsewhere = app.test_client()  # another browser: the link alone is the proof
    page = elsewhere.get(path)
    assert page.status_code == 200 and "Confirm my email address" in page.get_data(as_text=True)
    db.session.expire_all()
    assert user.email_confirmed_at is None  # opening the link (as mail scanners do) changes nothing
    confirmed = elsewhere.post(path)
    assert confirmed.status_code == 200 and "your email address is confirmed" in confirmed.get_data(as_text=True)
    assert "user.email_confirmed" in db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "✓ Your email address is confirmed." in client.get("/auth/pending").get_data(as_text=True)
    assert "email not confirmed" not in admin_client.get("/admin/partners?tab=pending").get_data(as_text=True)
    assert admin_client.post(f"/admin/partners/{user.partner.id}/approve").status_code == 302
    db.session.expire_all()
    assert user.partner.status == "approved" and user.status == "active"


def test_a_confirmation_link_used_again_is_a_friendly_page(client, mail_outbox):
    sign_up(client)
    path = link_in(emails_to(mail_outbox, "new@partner.test")[0])
    assert client.post(path).status_code == 200
    for again in (client.post(path), client.get(path)):
        assert again.status_code == 200 and "already confirmed" in again.get_data(as_text=True)


def test_a_confirmation_link_expires_and_a_new_one_can_be_sent(client, mail_outbox):
    sign_up(client)
    user = db.session.scalar(sa.select(User).where(User.email == "new@partner.test"))
    first = link_in(emails_to(mail_outbox, user.email)[0])
    [row] = token_rows(user)
    assert timedelta(hours=47) < row.expires_at - row.created_at <= timedelta(hours=48)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    for expired in (client.get(first), client.post(first)):
        assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    db.session.expire_all()
    assert user.email_confirmed_at is None

    resent = client.post("/auth/confirm/resend")
    assert resent.headers["Location"] == "/auth/pending"
    assert "We sent a new confirmation link" in client.get("/auth/pending").get_data(as_text=True)
    second = link_in(emails_to(mail_outbox, user.email)[-1])
    assert second != first and client.post(second).status_code == 200
    db.session.expire_all()
    assert user.email_confirmed_at is not None
    # Once confirmed, "send again" only says so.
    client.post("/auth/confirm/resend")
    assert "already confirmed" in client.get("/auth/pending").get_data(as_text=True)
    assert len(emails_to(mail_outbox, user.email)) == 2


def test_a_forged_confirmation_token_is_refused(client):
    sign_up(client)
    for response in (client.get("/auth/confirm/" + "forged-" * 6), client.post("/auth/confirm/" + "forged-" * 6)):
        assert response.status_code == 404 and "not valid" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User.email_confirmed_at).where(User.email == "new@partner.test")) is None


def test_a_confirmation_token_does_not_open_a_reset(client, mail_outbox):
    sign_up(client)
    path = link_in(emails_to(mail_outbox, "new@partner.test")[0])
    assert client.get(path.replace("/confirm/", "/reset/")).status_code == 404


# --- set-password links of manually added partners ---------------------------------------------------------


def test_a_manual_add_gets_a_set_password_link_that_works_once(app, client, mail_outbox):
    admin = factories.make_user("admin")
    db.session.commit()
    admin_client = login(app.test_client(), admin)
    admin_client.post("/admin/partners/add", data={"name": "Manu", "company_name": "Manual Co", "email": "m@p.test"})
    user = db.session.scalar(sa.select(User).where(User.email == "m@p.test"))
    assert admin_client.post(f"/admin/partners/{user.partner.id}/welcome-email").status_code == 302
    assert admin_client.post(f"/admin/partners/{user.partner.id}/welcome-email").status_code == 302
    first, second = (link_in(m) for m in emails_to(mail_outbox, "m@p.test"))
    assert "Temporary password" not in text_of(mail_outbox[-1]) and "7 days" in text_of(mail_outbox[-1])
    assert client.get(first).status_code == 410  # "send welcome email again" voided it
    assert choose(client, second).headers["Location"] == "/auth/login"
    assert choose(client, second).status_code == 410
    assert log_in(client, "m@p.test", NEW_PASSWORD).headers["Location"] == "/cp/"
    db.session.expire_all()
    assert not user.must_change_password and user.email_confirmed_at is not None


# --- limits, behind a proxy and not ------------------------------------------------------------------------


def test_sign_ups_are_limited_per_client_address_behind_a_trusted_proxy():
    app = make_app(TRUSTED_PROXIES=1, SIGNUP_RATE_LIMIT="2 per hour")
    behind = {"X-Forwarded-For": "203.0.113.1"}
    first = [sign_up(app.test_client(), f"a{n}@p.test", **behind).status_code for n in range(3)]
    assert first == [302, 302, 429]
    refused = sign_up(app.test_client(), "a9@p.test", **behind)
    assert int(refused.headers["Retry-After"]) > 0 and "Too many sign-ups" in refused.get_data(as_text=True)
    other = app.test_client()  # another person behind the same proxy is not blocked
    assert sign_up(other, "b1@p.test", **{"X-Forwarded-For": "203.0.113.2"}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 3


def test_without_trusted_proxies_a_forwarded_header_does_not_buy_more_sign_ups():
    app = make_app(SIGNUP_RATE_LIMIT="2 per hour")
    codes = [
        sign_up(app.test_client(), f"c{n}@p.test", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(3)
    ]
    assert codes == [302, 302, 429]


def test_reset_requests_are_limited_per_email_and_per_address():
    factories.make_partner(email="target@partner.test")
    db.session.commit()
    app = make_app(TRUSTED_PROXIES=1, RESET_RATE_LIMIT="2 per hour")
    client = app.test_client()

    # One address asking for many accounts is stopped by its address bucket...
    codes = [ask_reset(client, f"x{n}@p.test", **{"X-Forwarded-For": "198.51.100.1"}).status_code for n in range(3)]
    assert codes == [200, 200, 429]
    # ...and one account asked for from many addresses by its email bucket, known or not alike.
    for email in ("target@partner.test", "ghost@partner.test"):
        codes = [ask_reset(client, email, **{"X-Forwarded-For": f"198.51.100.{10 + n}"}).status_code for n in range(3)]
        assert codes == [200, 200, 429], email
    refused = ask_reset(client, "fresh@p.test", **{"X-Forwarded-For": "198.51.100.1"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many password reset requests" in refused.get_data(as_text=True)
    assert len(emails_to(app.extensions["mail_outbox"], "target@partner.test")) == 2


def test_without_trusted_proxies_reset_requests_count_against_the_real_address():
    app = make_app(RESET_RATE_LIMIT="2 per hour")
    client = app.test_client()
    codes = [ask_reset(client, f"y{n}@p.test", **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(3)]
    assert codes == [200, 200, 429]


def test_confirmation_resends_are_limited():
    app = make_app(CONFIRM_RESEND_RATE_LIMIT="2 per hour")
    client = app.test_client()
    sign_up(client)
    codes = [client.post("/auth/confirm/resend").status_code for _ in range(3)]
    assert codes == [302, 302, 429]
    assert len(emails_to(app.extensions["mail_outbox"], "new@partner.test")) == 3  # the sign-up's, two resends
