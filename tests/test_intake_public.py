"""The public request form (SPEC 9.2, issue 18 item 5): double opt-in through a real SMTP server, expired and
forged links, the honeypot, the size limit, rate limits (429 with Retry-After, memory and Redis), and the
invariant that no lead reaches review unconfirmed (also as a CHECK constraint)."""

import re
import uuid
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app.accounts.throttle import LoginThrottle
from app.extensions import db
from app.models import EmailOutbox, Lead, LeadConfirmation
from app.models.base import utcnow
from tests import factories
from tests.conftest import redis_url, requires_redis
from tests.security_support import changed_tables, fingerprint
from tests.smtp_support import SmtpServer

HTMX = {"HX-Request": "true"}


def person(email="ann.lee@example.com", **extra):
    return {"first_name": "Ann", "last_name": "Lee", "contact_email": email, "contact_company": "Lee Ltd", **extra}


@pytest.fixture
def category():
    category = factories.make_category("Solar Roofs", description="Panels for homes.")
    db.session.commit()
    return category


@pytest.fixture
def smtp(app):
    """A real SMTP server; the app's email jobs (in-process here) deliver to it."""
    saved = {k: app.config[k] for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT")}
    with SmtpServer() as server:
        app.config.update(server.config())
        yield server.recorder
    app.config.update(saved)


def leads() -> list[Lead]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Lead)))


def link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    found = re.search(r"https?://\S+(/request/confirm/\S+)", text)
    assert found, text
    return found.group(1)


# --- the form -----------------------------------------------------------------------------------------------


def test_the_index_lists_only_active_public_categories(client, category):
    factories.make_category("Hidden One", is_active=False)
    factories.make_category("Partners Only", accepts_public_requests=False)
    db.session.commit()
    page = client.get("/request").get_data(as_text=True)
    assert f'href="/request/{category.slug}"' in page
    assert "Hidden One" not in page and "Partners Only" not in page


@pytest.mark.parametrize("slug", ["no-such-category", "hidden-one", "partners-only"])
def test_unknown_inactive_or_non_public_categories_are_404(client, slug):
    factories.make_category("Hidden One", is_active=False)
    factories.make_category("Partners Only", accepts_public_requests=False)
    db.session.commit()
    assert client.get(f"/request/{slug}").status_code == 404
    assert client.post(f"/request/{slug}", data=person()).status_code == 404
    assert leads() == []


def test_the_form_shows_the_category_fields_and_a_hidden_labelled_honeypot(client, category):
    page = client.get(f"/request/{category.slug}").get_data(as_text=True)
    for label in ("First name (required)", "Email (required)", "Phone", "Budget", "Website (leave this empty)"):
        assert label in page
    honeypot = re.search(r'<input[^>]*name="website"[^>]*>', page).group(0)
    assert 'tabindex="-1"' in honeypot and 'autocomplete="off"' in honeypot and 'aria-hidden="true"' in honeypot
    assert 'aria-hidden="true" style="position:absolute;left:-10000px' in page


def test_errors_are_shown_beside_the_fields_with_422_and_nothing_is_stored(client, category):
    response = client.post(f"/request/{category.slug}", data={"first_name": "Ann", "contact_email": "not-an-email"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="last_name-error">Last name is required\.', page)
    assert re.search(r'id="contact_email-error">Enter an email address', page)
    assert leads() == [] and db.session.scalar(sa.select(sa.func.count()).select_from(EmailOutbox)) == 0


def test_the_email_is_required_even_with_a_phone(client, category):
    response = client.post(f"/request/{category.slug}", data=person(email="", contact_phone="+44 20 7946 0958"))
    assert response.status_code == 422
    assert "Your email is required" in response.get_data(as_text=True)
    assert leads() == []


def test_htmx_gets_the_partials(client, category):
    invalid = client.post(f"/request/{category.slug}", data={}, headers=HTMX)
    assert invalid.status_code == 422 and "<html" not in invalid.get_data(as_text=True)
    assert "First name is required." in invalid.get_data(as_text=True)
    sent = client.post(f"/request/{category.slug}", data=person(), headers=HTMX)
    body = sent.get_data(as_text=True)
    assert sent.status_code == 200 and "<html" not in body and "Check your email" in body
    assert "HX-Request" in sent.headers["Vary"]


def test_a_filled_honeypot_is_refused_with_400_and_nothing_stored(client, category):
    before = fingerprint()
    response = client.post(f"/request/{category.slug}", data=person(website="https://spam.example"))
    assert response.status_code == 400
    assert "Leave the “Website” field empty" in response.get_data(as_text=True)
    assert changed_tables(before, fingerprint()) == []


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_body_over_64_kb_is_refused_with_413(client, category, headers):
    before = fingerprint()
    response = client.post(f"/request/{category.slug}", data=person(description="x" * (65 * 1024)), headers=headers)
    assert response.status_code == 413
    assert "Keep what you send under 64 KB" in response.get_data(as_text=True)
    assert changed_tables(before, fingerprint()) == []
    assert client.post(f"/request/{category.slug}", data=person(description="x" * 4000)).status_code == 200


# --- double opt-in ------------------------------------------------------------------------------------------


def test_the_real_email_link_confirms_once_then_says_already_confirmed(app, client, category, smtp):
    response = client.post(f"/request/{category.slug}", data=person("ann.lee@example.com"))
    assert response.status_code == 200 and "ann.lee@example.com" in response.get_data(as_text=True)
    (lead,) = leads()
    assert (lead.channel, lead.intake_status, lead.confirmed_at) == ("public_form", "pending_confirmation", None)
    (message,) = smtp.to("ann.lee@example.com")
    assert message["Subject"] == "Please confirm your request"
    path = link_in(message)
    token = path.rsplit("/", 1)[1]
    row = db.session.scalar(sa.select(LeadConfirmation))
    assert row.token_hash != token and len(row.token_hash) == 64 and token not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(hours=48)

    first = client.get(path)
    assert first.status_code == 200 and "your request is confirmed" in first.get_data(as_text=True)
    (lead,) = leads()
    assert lead.intake_status == "pending_review" and lead.confirmed_at is not None

    before = fingerprint()
    second = client.get(path)
    assert second.status_code == 200 and "already confirmed" in second.get_data(as_text=True)
    assert changed_tables(before, fingerprint()) == []


def sent_link(mail_outbox) -> str:
    """The confirmation link of the last email (the memory backend), made when the email was sent."""
    return link_in(mail_outbox[-1])


def test_the_outbox_row_holds_no_token(client, category, mail_outbox):
    client.post(f"/request/{category.slug}", data=person())
    row = db.session.scalar(sa.select(EmailOutbox))
    token = sent_link(mail_outbox).rsplit("/", 1)[1]
    assert "link" not in row.context and token not in str(row.context) and row.status == "sent"


def test_an_expired_link_says_so_and_changes_nothing(client, category, mail_outbox):
    client.post(f"/request/{category.slug}", data=person())
    path = sent_link(mail_outbox)
    row = db.session.scalar(sa.select(LeadConfirmation))
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    before = fingerprint()
    response = client.get(path)
    assert response.status_code == 410 and "has expired" in response.get_data(as_text=True)
    assert changed_tables(before, fingerprint()) == []
    (lead,) = leads()
    assert lead.intake_status == "pending_confirmation" and lead.confirmed_at is None


def test_forged_and_garbled_links_are_404_and_change_nothing(app, client, category, mail_outbox):
    client.post(f"/request/{category.slug}", data=person())
    token = sent_link(mail_outbox).rsplit("/", 1)[1]
    forged = [
        "abc",
        token[:-3],  # cut short
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character changed
        URLSafeTimedSerializer("another-secret", salt="lead-confirm").dumps("nonce"),  # someone else's key
        URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="lead-confirm").dumps("never-issued"),  # unknown hash
        "x" * 500,
    ]
    before = fingerprint()
    for bad in forged:
        response = client.get(f"/request/confirm/{bad}")
        assert response.status_code == 404, bad
        assert "not valid" in response.get_data(as_text=True)
    assert changed_tables(before, fingerprint()) == []
    assert leads()[0].intake_status == "pending_confirmation"
    assert client.get(f"/request/confirm/{token}").status_code == 200  # the real one still works


def test_no_lead_reaches_review_without_confirmation(client, category):
    client.post(f"/request/{category.slug}", data=person())
    (lead,) = leads()
    assert lead.intake_status == "pending_confirmation" and lead.confirmed_at is None
    with pytest.raises(sa.exc.IntegrityError):  # the CHECK constraint confirmed_before_review
        db.session.execute(
            sa.text("UPDATE leads SET intake_status = 'pending_review' WHERE id = :id AND confirmed_at IS NULL"),
            {"id": lead.id.hex if db.engine.dialect.name == "sqlite" else lead.id},
        )
        db.session.flush()
    db.session.rollback()
    assert leads()[0].intake_status == "pending_confirmation"


# --- rate limits --------------------------------------------------------------------------------------------


def _assert_429(response):
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many requests" in response.get_data(as_text=True)


def test_per_address_limit_answers_429_with_retry_after(app, client, category):
    assert app.config["PUBLIC_FORM_RATE_LIMIT"] == "20/hour"
    for _ in range(20):
        assert client.post(f"/request/{category.slug}", data={}).status_code == 422
    _assert_429(client.post(f"/request/{category.slug}", data=person()))
    assert leads() == []
    elsewhere = app.test_client()
    ok = elsewhere.post(f"/request/{category.slug}", data=person(), environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert ok.status_code == 200  # another address is not held back


def test_per_email_limit_counts_the_normalised_address(app, client, category):
    assert app.config["PUBLIC_FORM_EMAIL_RATE_LIMIT"] == "5/day"
    spellings = ["ann.lee@gmail.com", "AnnLee@gmail.com", "ann.lee+a@googlemail.com", "a.n.n.lee@gmail.com", "annlee+x@gmail.com"]  # fmt: skip
    for n, email in enumerate(spellings):
        response = client.post(f"/request/{category.slug}", data=person(email), environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})  # fmt: skip
        assert response.status_code == 200
    before = fingerprint()
    blocked = client.post(f"/request/{category.slug}", data=person("ANN.LEE@gmail.com"), environ_base={"REMOTE_ADDR": "198.51.100.99"})  # fmt: skip
    _assert_429(blocked)
    assert changed_tables(before, fingerprint()) == []
    htmx = client.post(f"/request/{category.slug}", data=person("annlee@gmail.com"), headers=HTMX)
    assert htmx.status_code == 429 and "<html" not in htmx.get_data(as_text=True)
    other = client.post(f"/request/{category.slug}", data=person("someone.else@gmail.com"))
    assert other.status_code == 200


@requires_redis
def test_rate_limits_use_redis_when_configured(app, client, category):
    store = redis.Redis.from_url(redis_url())
    saved = app.extensions["login_throttle"]
    app.extensions["login_throttle"] = LoginThrottle(redis_url())
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    try:
        for _ in range(20):
            client.post(f"/request/{category.slug}", data={}, environ_base={"REMOTE_ADDR": address})
        keys = [k.decode() for k in store.scan_iter(f"*public-form:address:{address}*")]
        assert keys, "the counter is not in Redis"
        app.extensions["login_throttle"] = LoginThrottle(redis_url())  # another process, the same Redis
        _assert_429(client.post(f"/request/{category.slug}", data=person(), environ_base={"REMOTE_ADDR": address}))
    finally:
        app.extensions["login_throttle"] = saved
        for key in store.scan_iter(f"*public-form:address:{address}*"):
            store.delete(key)
