"""Render and deliver email. Backends: console (logs it), smtp, memory (tests read app.extensions).

In development (DEV_MAILBOX, a folder) the console and memory backends also keep each message there as an .eml
file, the newest MAILBOX_KEEP of them: the super admin's dev mailbox (/super/mailbox) lists them, whichever process
(web or worker) sent them."""

import logging
import smtplib
import time
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from flask import current_app

log = logging.getLogger(__name__)
MAILBOX_KEEP = 50


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
        keep_in_dev_mailbox(msg)
    else:
        log.info("email to %s: %s\n%s", msg["To"], msg["Subject"], msg.get_body(("plain",)).get_content())
        keep_in_dev_mailbox(msg)


def _mailbox() -> Path | None:
    folder = current_app.config.get("DEV_MAILBOX")
    return Path(folder) if folder and current_app.config.get("CONFIG_NAME") != "production" else None


def keep_in_dev_mailbox(msg: EmailMessage) -> None:
    """Keep a copy of a message the console or memory backend sent, for the dev mailbox (development only).
    A copy that cannot be written is logged, never fails the send."""
    folder = _mailbox()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"  # sorts by sending time
        kept = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
        if kept["Date"] is None:
            kept["Date"] = formatdate(usegmt=True)
        (folder / name).write_bytes(kept.as_bytes(policy=policy.SMTP))
        for old in sorted(folder.glob("*.eml"))[:-MAILBOX_KEEP]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("the dev mailbox could not keep an email: %s", exc)


def dev_mailbox(limit: int = MAILBOX_KEEP) -> list[EmailMessage] | None:
    """The newest messages kept for the dev mailbox, newest first; None when there is no dev mailbox."""
    folder = _mailbox()
    if folder is None:
        return None
    messages = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        try:
            messages.append(BytesParser(policy=policy.default).parsebytes(path.read_bytes()))
        except OSError:  # pruned by another process meanwhile
            continue
    return messages
