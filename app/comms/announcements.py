"""Announcements: an admin writes to all channel partners or chosen ones; each gets a notification.

send() records the announcement and queues its delivery (app.jobs.tasks.deliver_announcement) after the
commit: in a worker with Redis, at once in-process without it or while it is unreachable (and
app.jobs.tasks.requeue_stranded delivers any announcement still without `sent_at`). deliver() creates one "announcement"
notification per targeted CP (and the email when asked for) and is safe to run twice.
"""

import re
import uuid

import sqlalchemy as sa
from markupsafe import Markup, escape

from app.audit import trail as audit
from app.comms import notifications
from app.errors import Refused
from app.extensions import db
from app.jobs.after_commit import on_commit
from app.jobs.queue import enqueue
from app.models import Announcement, AnnouncementTarget, ChannelPartner, Notification, PartnerMember, User
from app.models.base import utcnow


class AnnouncementError(Refused):
    """A refused announcement; the message is safe to show."""


# --- the message: plain text with a tiny, escaped markdown subset --------------------------------

_BOLD = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(\S(?:.*?\S)?)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s()]{1,500})\)")


def _inline(escaped: str) -> str:
    text = _LINK.sub(r'<a href="\2" rel="noopener noreferrer">\1</a>', escaped)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    return _ITALIC.sub(r"<em>\1</em>", text)


def render_message(text: str) -> Markup:
    """Paragraphs (blank line), line breaks, "- " bullet lists, **bold**, *italic*, [label](https://…).

    Everything is HTML-escaped first; only the tags above are produced, so no markup gets through.
    """
    blocks = [b for b in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip()) if b.strip()]
    html = []
    for block in blocks:
        lines = [line.rstrip() for line in block.split("\n")]
        if all(line.lstrip().startswith(("- ", "* ")) for line in lines):
            items = "".join(f"<li>{_inline(str(escape(line.lstrip()[2:].strip())))}</li>" for line in lines)
            html.append(f"<ul>{items}</ul>")
        else:
            html.append("<p>" + "<br>\n".join(_inline(str(escape(line))) for line in lines) + "</p>")
    # Safe: every piece of text was escaped above; the only tags are the ones this function adds.
    return Markup("\n".join(html))  # noqa: S704  # nosec B704


def plain_excerpt(text: str, length: int = 140) -> str:
    """The message as one line of plain text for a list: link labels, no markup characters, no bullets."""
    text = _LINK.sub(r"\1", text or "")
    text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))
    text = re.sub(r"(?m)^\s*[-*] ", "", text)
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


# --- sending --------------------------------------------------------------------------------------


def approved_partners() -> list[ChannelPartner]:
    return list(
        db.session.scalars(
            sa.select(ChannelPartner).where(ChannelPartner.status == "approved").order_by(ChannelPartner.company_name)
        )
    )


def send(actor: User, title: str, content: str, partner_ids, send_email: bool) -> Announcement:
    """Record an announcement to all approved CPs (`partner_ids` None) or to the chosen ones; deliver after commit."""
    title, content = (title or "").strip(), (content or "").strip()
    if not title or not content:
        raise AnnouncementError("An announcement needs a title and a message.")
    approved = approved_partners()
    if not approved:
        raise AnnouncementError("There are no approved channel partners to announce to yet.")
    targets = []
    if partner_ids is not None:
        try:
            wanted = {uuid.UUID(str(pid)) for pid in partner_ids}
        except ValueError:
            wanted = {None}
        targets = [p for p in approved if p.id in wanted]
        if not targets or len(targets) != len(wanted):
            raise AnnouncementError("Choose one or more approved channel partners.")
    announcement = Announcement(
        title=title[:200],
        content=content,
        target_type="all" if partner_ids is None else "specific",
        send_email=bool(send_email),
        created_by=actor.id,
    )
    announcement.targets = [AnnouncementTarget(cp_id=p.id) for p in targets]
    db.session.add(announcement)
    db.session.flush()
    audit.record(
        actor,
        "announcement.sent",
        announcement,
        after={
            "title": announcement.title,
            "target": announcement.target_type,
            "partners": [p.company_name for p in targets],
            "email": announcement.send_email,
        },
    )
    announcement_id = str(announcement.id)

    on_commit(db.session, lambda: enqueue("app.jobs.tasks.deliver_announcement", announcement_id))
    return announcement


def recipients(announcement: Announcement) -> list[User]:
    """The users an announcement goes to: the active members of its chosen CPs, or of every approved CP."""
    stmt = (
        sa.select(User)
        .join(PartnerMember, PartnerMember.user_id == User.id)
        .join(ChannelPartner, ChannelPartner.id == PartnerMember.partner_id)
        .where(ChannelPartner.status == "approved", User.status == "active", PartnerMember.status == "active")
    )
    if announcement.target_type == "specific":
        chosen = sa.select(AnnouncementTarget.cp_id).where(AnnouncementTarget.announcement_id == announcement.id)
        stmt = stmt.where(ChannelPartner.id.in_(chosen))
    return list(db.session.scalars(stmt.order_by(ChannelPartner.company_name)))


def _notified_user_ids(announcement_id) -> set:
    stmt = sa.select(Notification.user_id).where(
        Notification.reference_type == "announcement", Notification.reference_id == announcement_id
    )
    return set(db.session.scalars(stmt))


def deliver(announcement_id) -> int:
    """Notify every recipient not notified yet (so a second run adds nothing); returns how many were new."""
    announcement = db.session.get(Announcement, announcement_id, with_for_update=True)
    if announcement is None:
        return 0
    done = _notified_user_ids(announcement.id)
    users = [user for user in recipients(announcement) if user.id not in done]
    notifications.notify(
        users,
        "announcement",
        reference=("announcement", announcement.id),
        link=notifications.path_for("notifications.announcement", announcement_id=announcement.id),
        email=announcement.send_email,
        email_context={"content": announcement.content},
        title=announcement.title,
    )
    announcement.sent_at = announcement.sent_at or utcnow()
    db.session.flush()
    return len(users)


# --- reading --------------------------------------------------------------------------------------


def can_view(user: User, announcement: Announcement) -> bool:
    """Staff see every announcement; a CP only one it was sent to."""
    if user.is_staff:
        return True
    received = sa.exists().where(
        Notification.user_id == user.id,
        Notification.reference_type == "announcement",
        Notification.reference_id == announcement.id,
    )
    return bool(db.session.scalar(sa.select(received)))


def read_counts(announcement_ids) -> dict:
    """{announcement id: (recipients, read)} from the notification rows."""
    ids = list(announcement_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(
            Notification.reference_id,
            sa.func.count(),
            sa.func.count().filter(Notification.is_read.is_(True)),
        )
        .where(Notification.reference_type == "announcement", Notification.reference_id.in_(ids))
        .group_by(Notification.reference_id)
    )
    counts = {ref: (total, read) for ref, total, read in rows}
    return {i: counts.get(i, (0, 0)) for i in ids}


def delivery_rows(announcement: Announcement) -> list[tuple[User, ChannelPartner | None, Notification]]:
    """Who got it and whether they read it, by company."""
    stmt = (
        sa.select(User, ChannelPartner, Notification)
        .join(User, User.id == Notification.user_id)
        .outerjoin(PartnerMember, PartnerMember.user_id == User.id)
        .outerjoin(ChannelPartner, ChannelPartner.id == PartnerMember.partner_id)
        .where(Notification.reference_type == "announcement", Notification.reference_id == announcement.id)
        .order_by(ChannelPartner.company_name, User.email)
    )
    return [tuple(row) for row in db.session.execute(stmt)]


def page(page_number: int = 1, per_page: int = 20):
    stmt = sa.select(Announcement).order_by(Announcement.created_at.desc(), Announcement.id.desc())
    return db.paginate(stmt, page=max(page_number, 1), per_page=per_page, error_out=False)


def latest(limit: int = 5) -> list[Announcement]:
    """The newest sent announcements (the admin dashboard's panel)."""
    stmt = (
        sa.select(Announcement)
        .where(Announcement.sent_at.is_not(None))
        .order_by(Announcement.sent_at.desc(), Announcement.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def latest_for_partner(partner: ChannelPartner, limit: int = 5) -> list[Announcement]:
    """The newest announcements this CP received (its dashboard's panel)."""
    team = sa.select(PartnerMember.user_id).where(PartnerMember.partner_id == partner.id)
    received = sa.select(Notification.reference_id).where(
        Notification.user_id.in_(team), Notification.reference_type == "announcement"
    )
    stmt = (
        sa.select(Announcement)
        .where(Announcement.id.in_(received))
        .order_by(Announcement.sent_at.desc(), Announcement.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
