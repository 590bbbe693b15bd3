"""Super admin: the dev mailbox (/super/mailbox), development only. The last emails the console or memory mail
backend sent (app.comms.mail keeps them in DEV_MAILBOX), with their links clickable, so a newcomer running
`make run` can read a manually added partner's welcome link or a password reset. Not found in production."""

import re
from email.utils import parsedate_to_datetime

from flask import abort
from markupsafe import Markup, escape

from app.comms import mail
from app.portals.superadmin import bp
from app.web import render

URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Plain text with its http(s) links made clickable; everything else escaped."""
    out, last = [], 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,;:)")
        out += [escape(text[last : match.start()]), Markup('<a href="{0}">{0}</a>').format(url)]
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _entry(msg) -> dict:
    body = msg.get_body(("plain",))
    try:
        sent = parsedate_to_datetime(msg["Date"]) if msg["Date"] else None
    except (TypeError, ValueError):
        sent = None
    return {
        "to": msg["To"],
        "subject": msg["Subject"],
        "sent": sent,
        "body": linkify(body.get_content() if body is not None else ""),
    }


@bp.get("/mailbox")
def mailbox():
    messages = mail.dev_mailbox()
    if messages is None:
        abort(404)
    return render("superadmin/mailbox/page.html", emails=[_entry(msg) for msg in messages])


# The sidebar shows the entry only where the page exists (app.web.navigation).
mailbox.shown_in_nav = lambda app: bool(app.config.get("DEV_MAILBOX")) and app.config.get("CONFIG_NAME") != "production"
