"""Referral links (SPEC 9.2): /r/<partner code> records a visit; a public request within 30 days is attributed.

The browser carries the visit in a signed cookie (`lf_ref`, the visit's id); the visit's own date decides the
30 days, so neither an old cookie nor a tampered one attributes anything.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.audit import trail as audit
from app.extensions import db
from app.leads import confirmation, intake
from app.models import Category, ChannelPartner, Lead, ReferralVisit
from app.models.base import utcnow

COOKIE = "lf_ref"
WINDOW = timedelta(days=30)
STATS_DAYS = 90
UTM_NAMES = ("source", "medium", "campaign", "term", "content")
UTM_MAX, REFERRER_MAX = 100, 500


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lf-referral")


def partner_for_code(code: str) -> ChannelPartner | None:
    """The approved partner whose referral code this is (codes are read case-insensitively)."""
    code = (code or "").strip().upper()
    if not code or len(code) > 12:
        return None
    return db.session.scalar(
        sa.select(ChannelPartner).where(ChannelPartner.code == code, ChannelPartner.status == "approved")
    )


def public_category(slug: str | None) -> Category | None:
    """An active category that takes public requests, by its slug; None otherwise."""
    if not slug or len(slug) > 140:
        return None
    return db.session.scalar(
        sa.select(Category).where(
            Category.slug == slug, Category.is_active.is_(True), Category.accepts_public_requests.is_(True)
        )
    )


def _clip(value, limit: int = UTM_MAX) -> str | None:
    """A query value or header as stored: printable characters only, trimmed, at most `limit` long."""
    text = "".join(ch for ch in str(value or "")[: limit * 4] if ch.isprintable()).strip()
    return text[:limit] or None


def record_visit(partner: ChannelPartner, args, referrer: str | None, category: Category | None) -> ReferralVisit:
    """A visit through the partner's link, with its UTM tags (≤100 characters each) and referrer (≤500)."""
    visit = ReferralVisit(
        partner_id=partner.id,
        category_id=category.id if category else None,
        referrer_url=_clip(referrer, REFERRER_MAX),
        **{f"utm_{name}": _clip(args.get(f"utm_{name}")) for name in UTM_NAMES},
    )
    db.session.add(visit)
    db.session.flush()
    return visit


def cookie_value(visit: ReferralVisit) -> str:
    return _serializer().dumps(str(visit.id))


def visit_from_cookie(raw: str | None) -> ReferralVisit | None:
    """The visit a browser's cookie names, if it is genuine and the visit was less than 30 days ago."""
    if not raw or len(raw) > 300:
        return None
    try:
        visit_id = uuid.UUID(_serializer().loads(raw, max_age=int(WINDOW.total_seconds())))
    except (BadSignature, ValueError, TypeError):
        return None
    visit = db.session.get(ReferralVisit, visit_id)
    if visit is None or visit.created_at < utcnow() - WINDOW:
        return None
    return visit


def submit_request(data, category: Category, visit: ReferralVisit | None) -> Lead:
    """A public request (SPEC 9.2): attributed to the referring partner when a visit is given, then its double
    opt-in email is queued.

    A partner that may not originate now (its quota is used up, or it lacks the "originates" capability, or it
    is no longer approved) does not cost the prospect the request: the lead is then created as a plain
    `public_form` lead, without attribution, UTM tags or referrer. The refusal wrote nothing (intake.submit
    checks the partner before it adds a row), so the second attempt starts clean.
    """
    lead = None
    if visit is not None and visit.partner.status == "approved":
        try:
            lead = intake.submit(
                data,
                category,
                channel="referral",
                partner=visit.partner,
                confirmed=False,
                referral_visit=visit,
                utm=visit.utm,
                referrer_url=visit.referrer_url,
            )
        except intake.IntakeRefused as refused:
            audit.record(None, "referral.unattributed", visit, after={"reason": str(refused)[:200]})
    if lead is None:
        lead = intake.submit(data, category, channel="public_form", confirmed=False)
    confirmation.issue(lead)
    return lead


@dataclass
class SourceStats:
    source: str  # utm_source, or "direct"
    visits: int = 0
    submissions: int = 0
    approvals: int = 0
    wins: int = 0


def stats(partner: ChannelPartner, days: int = STATS_DAYS) -> list[SourceStats]:
    """Visits, attributed submissions, approvals and wins per utm_source over the last `days`, the partner's own."""
    since = utcnow() - timedelta(days=days)
    source = sa.func.coalesce(ReferralVisit.utm_source, "")
    rows: dict[str, SourceStats] = {}
    visits = db.session.execute(
        sa.select(source, sa.func.count())
        .where(ReferralVisit.partner_id == partner.id, ReferralVisit.created_at >= since)
        .group_by(source)
    )
    for name, count in visits:
        rows.setdefault(name, SourceStats(name or "direct")).visits = count
    approved = Lead.intake_status.in_(("approved", "distributed"))
    leads = db.session.execute(
        sa.select(
            source,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((approved, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((Lead.kanban_stage == "won", 1), else_=0)), 0),
        )
        .join(ReferralVisit, Lead.referral_visit_id == ReferralVisit.id)
        .where(ReferralVisit.partner_id == partner.id, Lead.originated_by == partner.id, Lead.created_at >= since)
        .group_by(source)
    )
    for name, submitted, approvals, wins in leads:
        row = rows.setdefault(name, SourceStats(name or "direct"))
        row.submissions, row.approvals, row.wins = submitted, int(approvals), int(wins)
    return sorted(rows.values(), key=lambda r: (-r.visits, -r.submissions, r.source))
