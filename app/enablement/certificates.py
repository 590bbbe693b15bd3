"""Training certificates (SPEC §9.6): issued once per member when every module required for the partner's tier is
completed, with a verification code anyone can check, and a PDF the member downloads.

"Once" holds under races: completions of one member are serialised by a row lock (training_progress._lock_member)
and the certificate's unique user_id makes a second insert a no-op (a savepoint rolls back only that insert).
"""

import io
import secrets
from xml.sax.saxutils import escape

import sqlalchemy as sa
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from app.audit import trail as audit
from app.extensions import db
from app.models import ChannelPartner, PartnerMember, TrainingCertificate, TrainingModule, TrainingProgress, User
from app.money.receipts import PLATFORM_NAME, _register_fonts

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_code() -> str:
    return "LF-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def required_module_ids(tier: str) -> set:
    """The modules a partner of `tier` must complete (required_tiers is JSON, so it is filtered here)."""
    rows = db.session.execute(sa.select(TrainingModule.id, TrainingModule.required_tiers))
    return {module_id for module_id, tiers in rows if tier in (tiers or [])}


def completed_module_ids(user: User) -> set:
    stmt = sa.select(TrainingProgress.module_id).where(
        TrainingProgress.user_id == user.id, TrainingProgress.completed_at.is_not(None)
    )
    return set(db.session.scalars(stmt))


def certificate_for(user: User) -> TrainingCertificate | None:
    return db.session.scalar(sa.select(TrainingCertificate).where(TrainingCertificate.user_id == user.id))


def issue_if_due(user: User) -> TrainingCertificate | None:
    """Certify `user` when the required set of the partner's tier is non-empty and all completed; at most once.

    Returns the certificate issued by this call, or None (not due yet, or issued before).
    """
    partner = user.partner
    required = required_module_ids(partner.tier)
    if not required or not required <= completed_module_ids(user) or certificate_for(user) is not None:
        return None
    certificate = TrainingCertificate(user_id=user.id, partner_id=partner.id, code=new_code(), tier=partner.tier)
    try:
        with db.session.begin_nested():
            db.session.add(certificate)
    except sa.exc.IntegrityError:
        return None  # a racing completion issued it first
    audit.record(user, "training.certified", certificate, after={"code": certificate.code, "tier": certificate.tier})
    return certificate


def by_code(code: str) -> TrainingCertificate | None:
    code = (code or "").strip().upper()
    if len(code) > 20:
        return None
    return db.session.scalar(sa.select(TrainingCertificate).where(TrainingCertificate.code == code))


def certified_user_ids(partner: ChannelPartner) -> set:
    """Members of `partner` holding a certificate (the team page's badges), in one query."""
    stmt = sa.select(TrainingCertificate.user_id).where(TrainingCertificate.partner_id == partner.id)
    return set(db.session.scalars(stmt))


def team_progress(partner: ChannelPartner) -> list[tuple[PartnerMember, int, int, TrainingCertificate | None]]:
    """Each member of `partner`: (membership, required modules completed, required modules, certificate)."""
    required = required_module_ids(partner.tier)
    members = db.session.scalars(
        sa.select(PartnerMember).where(PartnerMember.partner_id == partner.id).order_by(PartnerMember.created_at)
    ).all()
    done = db.session.execute(
        sa.select(TrainingProgress.user_id, TrainingProgress.module_id).where(
            TrainingProgress.partner_id == partner.id, TrainingProgress.completed_at.is_not(None)
        )
    )
    completed: dict = {}
    for user_id, module_id in done:
        completed.setdefault(user_id, set()).add(module_id)
    certificates = {
        c.user_id: c
        for c in db.session.scalars(sa.select(TrainingCertificate).where(TrainingCertificate.partner_id == partner.id))
    }
    return [
        (m, len(completed.get(m.user_id, set()) & required), len(required), certificates.get(m.user_id))
        for m in members
    ]


def certificate_pdf(certificate: TrainingCertificate, verify_url: str) -> bytes:
    """An A4 landscape certificate: the member's name, the partner, the tier, the date and how to verify it."""
    regular, bold = _register_fonts()
    title = ParagraphStyle("title", fontName=bold, fontSize=30, leading=36, alignment=1, spaceAfter=14)
    big = ParagraphStyle("big", fontName=bold, fontSize=22, leading=28, alignment=1, spaceAfter=8)
    text = ParagraphStyle("text", fontName=regular, fontSize=13, leading=18, alignment=1)
    small = ParagraphStyle("small", parent=text, fontSize=9, leading=12, textColor=colors.grey)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), topMargin=30 * mm, bottomMargin=20 * mm, title="Training certificate"
    )
    user, partner = certificate.user, certificate.partner
    story = [
        Paragraph(escape(f"{PLATFORM_NAME} partner training"), text),
        Spacer(1, 8 * mm),
        Paragraph("Certificate of completion", title),
        Paragraph("This certifies that", text),
        Spacer(1, 4 * mm),
        Paragraph(escape(user.display_name), big),
        Paragraph(escape(f"of {partner.company_name}"), text),
        Spacer(1, 4 * mm),
        Paragraph(escape(f"completed every training module required for the {certificate.tier} tier"), text),
        Paragraph(escape(f"on {certificate.issued_at:%d %B %Y}."), text),
        Spacer(1, 16 * mm),
        Paragraph(escape(f"Verification code: {certificate.code}"), text),
        Paragraph(escape(f"Check it at {verify_url}"), small),
    ]
    doc.build(story)
    return buffer.getvalue()
