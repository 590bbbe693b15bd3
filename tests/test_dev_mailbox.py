"""Newcomer mail (issue 20 item 8): under `make run` the console backend prints each email in the terminal, and
the super admin's dev mailbox (/super/mailbox, development only) lists the last ones with their links clickable."""

import io
import logging
import os
import re

import sqlalchemy as sa

from app.comms import mail
from app.extensions import db
from app.models import User
from config import DevelopmentConfig, ProductionConfig
from tests import factories
from tests.conftest import login, make_app


def _add_partner_and_send_welcome(app) -> User:
    admin = factories.make_user("admin")
    db.session.commit()
    admin_client = login(app.test_client(), admin)
    admin_client.post("/admin/partners/add", data={"name": "Manu", "company_name": "Manual Co", "email": "m@p.test"})
    user = db.session.scalar(sa.select(User).where(User.email == "m@p.test"))
    assert admin_client.post(f"/admin/partners/{user.partner.id}/welcome-email").status_code == 302
    return user


def test_the_dev_mailbox_lists_a_just_sent_welcome_email_with_its_link(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "DEV_MAILBOX", str(tmp_path / "mailbox"))
    _add_partner_and_send_welcome(app)
    client = login(app.test_client(), factories.make_user("super_admin"))
    response = client.get("/super/mailbox")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "To m@p.test" in body
    link = re.search(r'<a href="(http[^"]+/auth/[^"]+)">', body).group(1)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert app.test_client().get(f"/{path}").status_code == 200  # the link works: the partner sets a password


def test_the_dev_mailbox_keeps_the_newest_and_escapes_what_it_shows(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "DEV_MAILBOX", str(tmp_path))
    monkeypatch.setattr(mail, "MAILBOX_KEEP", 3)
    with app.test_request_context():
        for n in range(5):
            mail.deliver(mail.build_message("x@p.test", f"Mail {n}", f"<b>{n}</b> https://example.test/{n}.", ""))
        kept = mail.dev_mailbox()
    assert [m["Subject"] for m in kept] == ["Mail 4", "Mail 3", "Mail 2"]
    client = login(app.test_client(), factories.make_user("super_admin"))
    body = client.get("/super/mailbox").get_data(as_text=True)
    assert '&lt;b&gt;4&lt;/b&gt; <a href="https://example.test/4">https://example.test/4</a>.' in body
    assert "<b>4</b>" not in body


def test_no_dev_mailbox_in_production_or_without_a_folder(app, monkeypatch, tmp_path):
    client = login(app.test_client(), factories.make_user("super_admin"))
    monkeypatch.setitem(app.config, "DEV_MAILBOX", None)
    assert client.get("/super/mailbox").status_code == 404
    # The sidebar entry only where the page exists (a fresh app: the sidebar is built once per app).
    superadmin = factories.make_user("super_admin")
    for folder, shown in ((None, False), (str(tmp_path), True)):
        page = login(make_app(DEV_MAILBOX=folder).test_client(), superadmin).get("/super/").get_data(as_text=True)
        assert ("Dev mailbox" in page) is shown
    monkeypatch.setitem(app.config, "DEV_MAILBOX", str(tmp_path))
    monkeypatch.setitem(app.config, "CONFIG_NAME", "production")
    with app.test_request_context():
        mail.deliver(mail.build_message("x@p.test", "Secret link", "https://example.test/secret", ""))
    assert client.get("/super/mailbox").status_code == 404 and not list(tmp_path.iterdir())
    assert ProductionConfig.DEV_MAILBOX is None or "DEV_MAILBOX" in os.environ
    assert DevelopmentConfig.DEV_MAILBOX  # make run keeps them


def test_under_make_run_each_email_is_printed_and_kept(tmp_path):
    from app import create_app

    dev = create_app(
        "development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'dev.db'}", DEV_MAILBOX=str(tmp_path / "box")
    )
    assert dev.config["MAIL_BACKEND"] == "console" or "MAIL_BACKEND" in os.environ
    dev.config["MAIL_BACKEND"] = "console"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("app.comms.mail").addHandler(handler)
    try:
        with dev.app_context():
            mail.deliver(mail.build_message("new@p.test", "Welcome", "Set it at http://localhost/auth/set/abc", ""))
            kept = mail.dev_mailbox()
    finally:
        logging.getLogger("app.comms.mail").removeHandler(handler)
    assert "email to new@p.test: Welcome" in stream.getvalue() and "/auth/set/abc" in stream.getvalue()
    assert [m["Subject"] for m in kept] == ["Welcome"]
