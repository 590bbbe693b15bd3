"""RQ job functions: they take ids, load, act, and are safe to run twice."""

import uuid

from app.extensions import db
from app.models import EmailOutbox, User
from app.models.base import utcnow
from app.services import mail


def send_email(outbox_id: str) -> str:
    """Send one outbox row. A row already sent is skipped, so a retried or duplicated job never sends twice."""
    row = db.session.get(EmailOutbox, uuid.UUID(outbox_id), with_for_update=True)
    if row is None or row.status == "sent":
        db.session.rollback()
        return "skipped"
    row.attempts += 1
    context = dict(row.context)
    if row.template == "welcome_credentials":
        from app.services.accounts import issue_temporary_password

        user = db.session.get(User, row.user_id)
        context["temp_password"] = issue_temporary_password(user) if user and user.must_change_password else None
    try:
        text, html = mail.render_email(row.template, **context)
        mail.deliver(mail.build_message(row.to_email, row.subject, text, html, f"<{row.id}@leadflowpm.test>"))
    except Exception as exc:
        row.status, row.last_error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise  # RQ records the failure and retries
    row.status, row.sent_at, row.last_error = "sent", utcnow(), None
    db.session.commit()
    return "sent"
