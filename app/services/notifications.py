"""The one service that notifies people: a notification row, then (after commit) a live nudge and an email."""

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import EmailOutbox, Notification, User
from app.services.after_commit import on_commit


@dataclass(frozen=True)
class Event:
    type: str  # notification type: lead | commission | approval | announcement | system
    title: str
    message: str  # str.format template
    email: bool  # sent by email unless the recipient muted this event


# Texts from seed 000 section 10 (and the SPEC's additions).
EVENTS = {
    "cp_approved": Event(
        "approval", "Account approved", "Your account has been approved. You can now access your portal.", True
    ),
    "cp_signed_up": Event(
        "approval",
        "New channel partner awaiting approval",
        "A new channel partner {company} has signed up and requires approval.",
        True,
    ),
    "lead_submitted": Event(
        "lead", "New lead submitted", "{company} submitted a new lead '{title}'. It is waiting to be allocated.", False
    ),
    "lead_assigned": Event(
        "lead", "Lead assigned to you", "A new lead '{title}' has been assigned to you. Start working on it now.", True
    ),
    "lead_won": Event(
        "lead",
        "Lead marked as Won",
        "CP {name} marked lead '{title}' as won. Commission record has been created.",
        False,
    ),
    "lead_lost": Event(
        "lead", "Lead marked as Lost", "CP {name} marked lead '{title}' as lost. Reason: {reason}", False
    ),
    "commission_voided": Event(
        "commission",
        "Commission voided",
        "Lead '{title}' left Won, so its {amount} commission transaction was voided.",
        False,
    ),
    "settlement_requested": Event(
        "commission", "Settlement requested", "{company} requested settlement of {amount} for lead '{title}'.", False
    ),
    "commission_settled": Event(
        "commission",
        "Commission settled to you",
        "Admin has settled {amount} net commission for lead '{title}'. View your receipt.",
        True,
    ),
    "platform_fee_settled": Event(
        "commission",
        "Platform fee settled to you",
        "Admin settled {amount} platform fee covering {count} {leads_word}. Receipt is attached.",
        True,
    ),
    "announcement": Event("announcement", "{title}", "{title} — click to read the full message from admin.", True),
    "bank_receipt_uploaded": Event(
        "commission",
        "Bank-transfer receipt uploaded",
        "{company} uploaded a bank-transfer receipt for the {amount} platform fee on lead '{title}'. Please confirm it.",
        True,
    ),
    "cp_payment_reviewed": Event(
        "commission", "Payment {outcome}", "Your {amount} platform-fee payment for lead '{title}' was {outcome}.", True
    ),
    "bank_details_changed": Event(
        "system", "Bank details changed", "{company} changed its bank details. Please review them.", True
    ),
    "content_reviewed": Event(
        "system", "Category content {outcome}", "Your content for '{category}' was {outcome}.", False
    ),
}

EMAIL_EVENTS = [key for key, event in EVENTS.items() if event.email]


def users_with_role(role: str) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.role == role, User.status == "active")))


def queue_email(to: User | str, template: str, subject: str, context: dict, notification=None) -> EmailOutbox:
    """Write an outbox row now; its send job is enqueued after the commit."""
    user = to if isinstance(to, User) else None
    row = EmailOutbox(
        to_email=user.email if user else to,
        user_id=user.id if user else None,
        template=template,
        subject=subject,
        context=context,
        status="queued",
        notification_id=notification.id if notification is not None else None,
    )
    db.session.add(row)
    db.session.flush()
    outbox_id = str(row.id)

    def _enqueue():
        from app.jobs import send_email
        from app.services.queue import enqueue

        enqueue(send_email, outbox_id)

    on_commit(db.session, _enqueue)
    return row


def notify(recipients, event_key: str, *, reference=None, link: str | None = None, email=None, **fields):
    """Notify each recipient of an event. `reference` is (type, id); `email=False` suppresses email."""
    event = EVENTS[event_key]
    title, message = event.title.format(**fields), event.message.format(**fields)
    ref_type, ref_id = reference if reference else (None, None)
    rows = []
    for user in recipients:
        row = Notification(
            user_id=user.id,
            type=event.type,
            event=event_key,
            title=title[:200],
            message=message,
            link=link,
            reference_type=ref_type,
            reference_id=ref_id,
        )
        db.session.add(row)
        db.session.flush()
        rows.append(row)
        wants_email = event.email if email is None else email
        if wants_email and event_key not in (user.email_muted_events or []):
            context = {"title": title, "message": message, "link": link, "name": user.display_name}
            queue_email(user, "notification", title, context, notification=row)
    user_ids = [str(user.id) for user in recipients]

    def _publish():
        from app import realtime

        realtime.publish(user_ids)

    on_commit(db.session, _publish)
    return rows


def notify_admins(event_key: str, **kw):
    return notify(users_with_role("admin"), event_key, **kw)


def notify_super_admins(event_key: str, **kw):
    return notify(users_with_role("super_admin"), event_key, **kw)


def unread_count(user) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.is_read.is_(False))
    )


def latest(user, limit: int = 5) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc())
            .limit(limit)
        )
    )
