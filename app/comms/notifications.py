"""The one service that notifies people: a notification row, then (after commit) a live nudge, an email and a text.

Callers pass an event key from EVENTS, the recipients (or use notify_admins / notify_super_admins),
the fields its texts name, a `reference` (type, id) and a `link` (a path in the app). In-app rows
always stay; the email follows the event's default unless the recipient muted that event; a text
message (app.comms.sms) goes to each recipient who opted in to SMS and chose that event.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for

from app.comms import sms
from app.extensions import db
from app.jobs.after_commit import on_commit
from app.jobs.queue import WAIT, enqueue
from app.models import EmailOutbox, Notification, User
from app.models.base import utcnow

CP, ADMIN, SUPER = "channel_partner", "admin", "super_admin"


@dataclass(frozen=True)
class Event:
    type: str  # notification type: lead | commission | approval | announcement | system
    title: str
    message: str  # str.format template
    email: bool  # sent by email unless the recipient muted this event
    audience: tuple[str, ...] = (ADMIN,)  # the roles that receive it (the preferences page lists these)
    label: str = ""  # how the preferences page names the event ("" → the title)
    template: str = "notification"  # templates/email/<template>.{txt,html}


# Texts from seed 000 section 10 (and the SPEC's additions).
EVENTS = {
    "cp_approved": Event(
        "approval",
        "Account approved",
        "Your account has been approved. You can now access your portal.",
        True,
        (CP,),
    ),
    "cp_signed_up": Event(
        "approval",
        "New channel partner awaiting approval",
        "A new channel partner {company} has signed up and requires approval.",
        True,
    ),
    "lead_submitted": Event(
        "lead",
        "New lead to review",
        "{source} brought in a new lead '{title}' (score {score}). It is waiting for review.",
        False,
    ),
    "lead_approved": Event(
        "lead",
        "Lead approved",
        "Your lead '{title}' was approved and will be allocated.",
        True,
        (CP,),
        label="A lead you submitted was approved",
    ),
    "lead_rejected": Event(
        "lead",
        "Lead rejected",
        "Your lead '{title}' was rejected. Reason: {reason}",
        True,
        (CP,),
        label="A lead you submitted was rejected",
    ),
    "import_finished": Event(
        "system", "Import finished", "Import of {filename}: {created} created, {rejected} rejected.", False, (ADMIN, CP)
    ),
    "credit_decided": Event(
        "commission",
        "Lead credit {outcome}",
        "Your {amount} credit for lead '{title}' was {outcome}.",
        True,
        (CP,),
        label="A lead credit approved or rejected",
    ),
    "lead_assigned": Event(
        "lead",
        "Lead assigned to you",
        "A new lead '{title}' has been assigned to you. Start working on it now.",
        True,
        (CP,),
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
        (CP,),
    ),
    "platform_fee_settled": Event(
        "commission",
        "Platform fee settled to you",
        "Admin settled {amount} platform fee covering {count} {leads_word}. Receipt is attached.",
        True,
        (SUPER,),
    ),
    "announcement": Event(
        "announcement",
        "{title}",
        "{title} — click to read the full message from admin.",
        True,
        (CP,),
        label="Announcements from the admin",
        template="announcement",
    ),
    "bank_receipt_uploaded": Event(
        "commission",
        "Bank-transfer receipt uploaded",
        "{company} uploaded a bank-transfer receipt for the {amount} platform fee on lead '{title}'. Please confirm it.",
        True,
    ),
    "cp_payment_reviewed": Event(
        "commission",
        "Payment {outcome}",
        "Your {amount} platform-fee payment for lead '{title}' was {outcome}.",
        True,
        (CP,),
        label="Platform-fee payment confirmed or rejected",
    ),
    "webhook_failing": Event(
        "system",
        "Webhook delivery failed",
        "A {event} delivery to {url} failed after {attempts} attempts ({error}). Fix the receiver, then redeliver it "
        "from the endpoint's log. For the next 24 hours further failures of this endpoint are in its log only.",
        True,
        (CP,),
        label="A webhook delivery failed for good",
    ),
    "card_payment_not_counted": Event(
        "commission",
        "Card payment not counted",
        "{company} paid {amount} by card for lead '{title}' through a checkout that no longer counted: {outcome}.",
        True,
    ),
    "bank_details_changed": Event(
        "system",
        "Bank details changed",
        "{company} changed its bank details ({fields}); KYC is back to unverified. Please review them.",
        True,
    ),
    "kyc_reviewed": Event(
        "system",
        "Bank details {outcome}",
        "An admin {outcome} your bank details.{note}",
        True,
        (CP,),
        label="Bank details verified or rejected",
    ),
    "member_joined": Event(
        "system", "A new member joined", "{name} joined your team with the invite code, as a viewer.", False, (CP,)
    ),
    "content_reviewed": Event(
        "system",
        "Category content {outcome}",
        "Your content for '{category}' was {outcome}.",
        False,
        (CP,),
        label="Your category content approved or rejected",
    ),
}

EMAIL_EVENTS = [key for key, event in EVENTS.items() if event.email]
# Sent as a branded email of its own (the welcome email), so there is nothing to mute.
_NOT_MUTABLE = {"cp_approved"}


def users_with_role(role: str) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.role == role, User.status == "active")))


def path_for(endpoint: str, **values) -> str:
    """A path in the app, also from a job (no request): for the `link` of a notification."""
    if has_request_context():
        return url_for(endpoint, **values)
    adapter = current_app.url_map.bind("localhost")
    return adapter.build(endpoint, values)


def queue_email(to: User | str, template: str, subject: str, context: dict, notification=None) -> EmailOutbox:
    """Write an outbox row now; its send job (app.jobs.tasks.send_email) is enqueued after the commit.

    The row is the durable record: if Redis cannot take the job, the sweeper enqueues it later.
    """
    user = to if isinstance(to, User) else None
    row = EmailOutbox(
        to_email=user.email if user else to,
        user_id=user.id if user else None,
        template=template,
        subject=subject[:200],
        context=context,
        status="queued",
        notification_id=notification.id if notification is not None else None,
    )
    db.session.add(row)
    db.session.flush()
    outbox_id = str(row.id)

    # With Redis down the row waits, `queued`, for app.jobs.tasks.requeue_stranded: no SMTP inside a request.
    on_commit(db.session, lambda: enqueue("app.jobs.tasks.send_email", outbox_id, when_down=WAIT))
    return row


def wants_email(user: User, event_key: str) -> bool:
    return event_key not in (user.email_muted_events or [])


def notify(
    recipients,
    event_key: str,
    *,
    reference=None,
    link: str | None = None,
    email=None,
    email_context: dict | None = None,
    **fields,
) -> list[Notification]:
    """Notify each recipient of an event: a row each, an email and a text each where due, one live nudge after commit.

    `reference` is (type, id); `email=False` suppresses the email (`True` forces it for an event
    without one); `email_context` adds to what the email template sees.
    """
    event = EVENTS[event_key]
    title, message = event.title.format(**fields), event.message.format(**fields)
    ref_type, ref_id = reference if reference else (None, None)
    send = event.email if email is None else email
    rows, seen = [], set()
    for user in recipients:
        if user.id in seen:
            continue
        seen.add(user.id)
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
        if send and wants_email(user, event_key):
            context = {"title": title, "message": message, "link": link, "name": user.display_name}
            queue_email(user, event.template, title, {**context, **(email_context or {})}, notification=row)
        if sms.wants_sms(user, event_key):
            sms.queue_sms(user, sms.text_for(message, link), notification=row)
    _publish_after_commit([row.user_id for row in rows])
    return rows


def _publish_after_commit(user_ids) -> None:
    if not user_ids:
        return
    ids = [str(user_id) for user_id in user_ids]

    def _publish():
        from app import realtime

        realtime.publish(ids)

    on_commit(db.session, _publish)


def notify_admins(event_key: str, **kw):
    return notify(users_with_role("admin"), event_key, **kw)


def notify_super_admins(event_key: str, **kw):
    return notify(users_with_role("super_admin"), event_key, **kw)


def _unread(user):
    return sa.and_(Notification.user_id == user.id, Notification.is_read.is_(False))


def unread_count(user) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(_unread(user)))


def latest(user, limit: int = 5) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def statement_for(user, unread_only: bool = False) -> sa.Select:
    """The user's own notifications (all, or the unread ones); unordered."""
    stmt = sa.select(Notification).where(Notification.user_id == user.id)
    return stmt.where(Notification.is_read.is_(False)) if unread_only else stmt


def page_for(user, page: int = 1, per_page: int = 20, unread_only: bool = False):
    """The user's notifications, newest first, one page of them."""
    stmt = statement_for(user, unread_only).order_by(Notification.created_at.desc(), Notification.id.desc())
    return db.paginate(stmt, page=max(page, 1), per_page=per_page, error_out=False)


def mark_read(notification: Notification) -> None:
    """Mark one notification read (the caller checked it is the actor's own: loaders.load_notification)."""
    if not notification.is_read:
        notification.is_read, notification.read_at = True, utcnow()
        db.session.flush()
        _publish_after_commit([notification.user_id])  # the user's other tabs follow


def mark_all_read(user) -> int:
    """Mark every unread notification of `user` read; returns how many changed."""
    result = db.session.execute(
        sa.update(Notification).where(_unread(user)).values(is_read=True, read_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    db.session.expire_all()
    if result.rowcount:
        _publish_after_commit([user.id])
    return result.rowcount


def email_events_for(user) -> list[tuple[str, str]]:
    """(event key, label) of the emails this user can receive and so may turn off."""
    return [
        (key, event.label or event.title)
        for key, event in EVENTS.items()
        if event.email and user.role in event.audience and key not in _NOT_MUTABLE
    ]


def set_email_preferences(user, wanted: set[str]) -> list[str]:
    """Mute every email event of the user's role that is not in `wanted`; in-app rows are unaffected."""
    offered = {key for key, _label in email_events_for(user)}
    kept = [key for key in (user.email_muted_events or []) if key not in offered]
    user.email_muted_events = sorted(kept + [key for key in offered if key not in wanted])
    db.session.flush()
    return user.email_muted_events
