"""Render and deliver email. Backends: console (logs it), smtp, memory (tests read app.extensions)."""

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from flask import current_app

log = logging.getLogger(__name__)


def render_email(template: str, **context) -> tuple[str, str]:
    """Return (text, html) bodies from templates/email/<template>.txt and .html.

    Rendered from the row's context alone, without the request's context processors: an email is
    the same whether a worker or a web request sends it.
    """
    context.setdefault("base_url", current_app.config["PUBLIC_BASE_URL"].rstrip("/"))
    env = current_app.jinja_env
    text = env.get_template(f"email/{template}.txt").render(**context)
    html = env.get_template(f"email/{template}.html").render(**context)
    return text, html


def message_id_for(outbox_id) -> str:
    """The Message-ID of an outbox row: the same on every attempt, so a resend is recognisable."""
    sender = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    domain = sender.rpartition("@")[2] or "leadflowpm.test"
    return f"<{outbox_id}@{domain}>"


def build_message(to: str, subject: str, text: str, html: str, message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="leadflowpm.test")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def deliver(msg: EmailMessage) -> None:
    cfg = current_app.config
    backend = cfg["MAIL_BACKEND"]
    if backend == "smtp":
        smtp_cls = smtplib.SMTP_SSL if cfg["MAIL_USE_SSL"] else smtplib.SMTP
        with smtp_cls(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=30) as smtp:
            if cfg["MAIL_USE_TLS"]:
                smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
            smtp.send_message(msg)
    elif backend == "memory":
        current_app.extensions.setdefault("mail_outbox", []).append(msg)
    else:
        log.info("email to %s: %s\n%s", msg["To"], msg["Subject"], msg.get_body(("plain",)).get_content())
