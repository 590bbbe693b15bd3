"""Text messages, a notification channel (SPEC 9.5): opt-in per user, per event, STOP honoured.

A person gives a mobile number (E.164), opts in, and picks the events they want by SMS on their notification
preferences. notify() queues an outbox row for each recipient who wants the event (`wants_sms`); the job
app.jobs.sms.send_sms sends it after the commit through SMS_BACKEND: "console" (logs it, the number masked) or
"twilio" (Twilio's official client). A STOP reply (app/webhooks/twilio_sms.py) or Twilio's error 21610 (the recipient
has unsubscribed) turns the opt-in off until the person opts in again.
"""

import logging

import sqlalchemy as sa
from flask import current_app

from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.jobs.after_commit import on_commit
from app.jobs.queue import WAIT, enqueue
from app.leads.fields import to_e164
from app.models import SmsOutbox, User
from app.models.base import utcnow

log = logging.getLogger(__name__)

MAX_BODY = 640  # the outbox column; four SMS segments at most
# Replies Twilio itself treats as an opt-out, and as opting in again (its Advanced Opt-Out defaults).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP"})
UNSUBSCRIBED = 21610  # Twilio's error: the recipient replied STOP to this sender
# Sent when a partner's account is approved: before its owner could log in and opt in, so never offered by SMS.
NOT_TEXTED = frozenset({"cp_approved"})


class SmsPreferenceError(Refused):
    status = 422


def mask(phone: str | None) -> str:
    """A number as logs may show it: its first two and last two characters (+1********67)."""
    if not phone:
        return ""
    return phone[:2] + "*" * max(len(phone) - 4, 0) + phone[-2:]


# --- preferences --------------------------------------------------------------------------------


def events_for(user) -> list[tuple[str, str]]:
    """(event key, label) of the notifications this user's role receives that may also come by SMS."""
    from app.comms.notifications import EVENTS

    return [
        (key, event.label or event.title)
        for key, event in EVENTS.items()
        if user.role in event.audience and key not in NOT_TEXTED
    ]


def set_preferences(user: User, phone: str, opt_in: bool, wanted: set[str], actor: User) -> None:
    """Store the number (E.164), the opt-in and the events wanted by SMS. Opting in needs a number; opting in again
    after a STOP clears it (the person asked, here). Changes of the opt-in are audited (consent records)."""
    phone = (phone or "").strip()
    number = None
    if phone:
        try:
            number = to_e164(phone)
        except ValueError:
            raise SmsPreferenceError(
                "Enter a mobile number with its country code, such as +1 415 555 0100.", "phone"
            ) from None
    if opt_in and number is None:
        raise SmsPreferenceError("Give a mobile number to receive text messages.", "phone")
    offered = {key for key, _label in events_for(user)}
    was_on = bool(user.sms_opt_in)
    user.phone = number
    user.sms_events = sorted(key for key in wanted if key in offered)
    user.sms_opt_in = bool(opt_in)
    if opt_in:
        user.sms_opted_out_at = None
    if was_on != user.sms_opt_in:
        action = "sms.opted_in" if opt_in else "sms.opted_out"
        audit.record(actor, action, user, after={"phone": mask(number), "via": "preferences"})
    db.session.flush()


def wants_sms(user: User, event_key: str) -> bool:
    """True when this event should also reach the user by text: opted in, a number, no STOP since, event chosen."""
    return bool(
        user.sms_opt_in and user.phone and user.sms_opted_out_at is None and event_key in (user.sms_events or [])
    )


def opt_out(users, via: str) -> int:
    """Turn the opt-in off for these users (a STOP reply, or Twilio's 21610), audited; returns how many changed."""
    changed = 0
    for user in users:
        if user.sms_opt_in or user.sms_opted_out_at is None:
            user.sms_opt_in, user.sms_opted_out_at = False, utcnow()
            audit.record(user, "sms.opted_out", user, after={"phone": mask(user.phone), "via": via})
            changed += 1
    db.session.flush()
    return changed


def opt_in_again(users, via: str) -> int:
    """A START reply: the person opts in again (their event choices were kept)."""
    changed = 0
    for user in users:
        if not user.sms_opt_in or user.sms_opted_out_at is not None:
            user.sms_opt_in, user.sms_opted_out_at = True, None
            audit.record(user, "sms.opted_in", user, after={"phone": mask(user.phone), "via": via})
            changed += 1
    db.session.flush()
    return changed


def users_with_phone(phone: str) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.phone == phone)))


def handle_reply(phone: str, body: str) -> str | None:
    """An inbound message from `phone`: STOP words opt out everyone with that number, START words opt them in
    again; anything else is ignored. Returns "stop", "start" or None."""
    word = (body or "").strip().strip(".!").upper()
    if word in STOP_WORDS:
        opt_out(users_with_phone(phone), via=f"reply {word}")
        return "stop"
    if word in START_WORDS:
        opt_in_again(users_with_phone(phone), via=f"reply {word}")
        return "start"
    return None


# --- queueing and sending -----------------------------------------------------------------------


def text_for(message: str, link: str | None) -> str:
    """The text of a notification's SMS: its message and, when it has one, the link into the app."""
    text = f"LeadFlow PM: {message}"
    if link:
        text += f" {current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{link}"
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 1] + "…"


def queue_sms(user: User, body: str, notification=None) -> SmsOutbox:
    """Write an outbox row now; its send job (app.jobs.sms.send_sms) is enqueued after the commit. With Redis
    down the row waits, `queued`, for the sweeper, like an email."""
    row = SmsOutbox(
        user_id=user.id,
        to_phone=user.phone,
        body=body[:MAX_BODY],
        status="queued",
        notification_id=notification.id if notification is not None else None,
    )
    db.session.add(row)
    db.session.flush()
    outbox_id = str(row.id)
    on_commit(db.session, lambda: enqueue("app.jobs.sms.send_sms", outbox_id, when_down=WAIT))
    return row


def deliver(to: str, body: str) -> str | None:
    """Send one message through SMS_BACKEND; returns the provider's message id (None for the console).
    Twilio's errors come out as twilio.base.exceptions.TwilioRestException (its `code` says which)."""
    if current_app.config["SMS_BACKEND"] == "twilio":
        from app.comms.twilio_client import twilio_client  # on use: Twilio's HTTP stack stays out of page workers

        message = twilio_client().messages.create(to=to, from_=current_app.config["TWILIO_FROM_NUMBER"], body=body)
        return message.sid
    log.info("sms to %s: %s", mask(to), body)
    return None
