"""Demo commissions: transactions in every state (pending, due, requested, paid with a bank slip, client
paid the CP directly, void), and a CP fee payment of each method (card completed, bank transfer awaiting
review), plus a replaced card checkout paid late whose refund waits for an admin. Each deal is created once, by title, so running the seed twice changes nothing."""

import io
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A5
from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.files import storage
from app.models import ChannelPartner, CpPayment, Lead, User
from app.models.base import utcnow
from app.money import commissions, payments, settlements
from app.web.money import format_money

# title, partner email, lead value, commission, state, days since won
DEALS = [
    ("Warehouse racking for Brightline Foods", "cp1@demo.test", "10000", "1000", "paid", 60),
    ("Payroll software for Castle Dental", "cp2@demo.test", "18500", "1480", "paid", 41),
    ("EV chargers for Parkview Apartments", "cp1@demo.test", "32000", "2560", "requested", 25),
    ("Cloud backup for Ødegaard Shipping", "cp3@demo.test", "12000", "960", "due", 18),
    ("Door access for Summit Gym", "cp2@demo.test", "7400", "592", "pending", 9),
    ("LED retrofit for Maple Street Library", "cp1@demo.test", "5600", "448", "pending", 3),
    ("POS terminals for Corner Café chain", "cp3@demo.test", "9800", "784", "direct_card", 33),
    ("VoIP phones for Hartley Legal", "cp1@demo.test", "6300", "504", "direct_bank", 21),
    ("Cancelled: signage for Eastgate Mall", "cp2@demo.test", "4000", "320", "void", 30),
]


def _slip_pdf(partner: ChannelPartner, amount: Decimal, reference: str) -> bytes:
    """A small bank transfer confirmation, drawn for the demo."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A5)
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawString(40, 540, "LeadFlow PM operations account - transfer slip")
    pdf.setFont("Helvetica", 10)
    lines = [
        f"Reference: {reference}",
        f"Amount: {format_money(amount)}",
        f"Beneficiary: {partner.bank_account_name or partner.company_name}",
        f"Bank: {partner.bank_name or '-'}  Account: {partner.masked_account_number or partner.masked_iban or '-'}",
        "Status: Executed",
    ]
    for offset, line in enumerate(lines):
        pdf.drawString(40, 510 - 16 * offset, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _receipt_png(amount: Decimal) -> bytes:
    image = Image.new("RGB", (360, 160), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.text((16, 20), "Bank transfer receipt", fill=(20, 40, 90))
    draw.text((16, 60), f"Amount: {format_money(amount)}", fill=(0, 0, 0))
    draw.text((16, 90), "To: LeadFlow PM", fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def partner_by_email(email: str) -> ChannelPartner | None:
    return db.session.scalar(
        sa.select(ChannelPartner).join(User, User.id == ChannelPartner.user_id).where(User.email == email)
    )


def won_lead(admin, partner, title: str, value: str, commission: str, days: int):
    """A demo deal the partner won `days` ago, with its commission transaction (status pending)."""
    won_at = utcnow() - timedelta(days=days)
    lead = Lead(
        title=title,
        description="A deal the partner closed; its commission moves through the money flow.",
        allocated_to=partner.id,
        allocation_status="allocated",
        kanban_stage="won",
        lead_value=Decimal(value),
        commission_amount=Decimal(commission),
        created_by=admin.id,
        stage_changed_at=won_at,
        channel="admin",
        intake_status="distributed",
        confirmed_at=won_at,
        first_name="Chris",
        last_name="Morgan",
        contact_name="Chris Morgan",
    )
    db.session.add(lead)
    db.session.flush()
    tx = commissions.open_for_won_lead(lead, admin)
    tx.won_at = won_at
    db.session.flush()
    return lead, tx


def _advance(admin, partner, lead, tx, state: str, days: int) -> None:
    paid_on = date.today() - timedelta(days=max(days - 5, 0))
    if state == "void":
        lead.kanban_stage = "lost"
        lead.lost_reason = "The client postponed the project indefinitely."
        commissions.on_stage_changed(lead, "won", admin)
        return
    if state in ("direct_card", "direct_bank"):
        commissions.flag_paid_directly(tx, admin, paid_on, "Client paid the partner by cheque")
        _fee_payment(partner, tx, state)
        return
    if state == "pending":
        return
    commissions.record_client_payment(tx, admin, paid_on, f"INV-{lead.title[:3].upper()}-{days:03d}")
    if state == "requested":
        settlements.request_settlement(tx, partner.user)
    if state == "paid":
        reference = f"TRF-{days:04d}"
        slip = storage.save_bytes(
            _slip_pdf(partner, tx.net_commission, reference),
            "bank_slip",
            f"slip-{reference}.pdf",
            "application/pdf",
            actor=admin,
            cp_id=partner.id,
        )
        settlements.settle_to_cp(tx, admin, slip, reference, f"demo-settle-{tx.id.hex}", tx.net_commission)
        tx.settled_at = utcnow() - timedelta(days=max(days - 7, 0))


def _card_payment(tx, label: str, **fields) -> None:
    suffix = f"{label}_{tx.id.hex[:12]}"
    db.session.add(
        CpPayment(
            commission_tx_id=tx.id,
            cp_id=tx.cp_id,
            payment_method="card",
            amount=tx.platform_fee,
            stripe_checkout_session_id=f"cs_{suffix}",
            stripe_payment_id=f"pi_{suffix}",
            **fields,
        )
    )


def _fee_payment(partner, tx, state: str) -> None:
    if state == "direct_bank":
        upload = FileStorage(io.BytesIO(_receipt_png(tx.platform_fee)), filename="bank-receipt.png")
        payments.submit_bank_transfer(tx, partner.user, upload)
        return
    # A card payment that Stripe already confirmed (the demo has no Stripe account to call), and an earlier,
    # replaced checkout that the client paid anyway: it never counts, and its refund waits for an admin (the
    # admin commissions page lists it; without a Stripe account a retry says so).
    _card_payment(tx, "demo", status="completed", completed_at=utcnow() - timedelta(days=2))
    _card_payment(tx, "demo_old", status="failed", review_note=payments.REPLACED_NOTE, needs_review=True)
    db.session.flush()


def seed() -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    if admin is None:
        return
    for title, email, value, commission, state, days in DEALS:
        partner = partner_by_email(email)
        if partner is None or db.session.scalar(sa.select(Lead.id).where(Lead.title == title)):
            continue
        lead, tx = won_lead(admin, partner, title, value, commission, days)
        _advance(admin, partner, lead, tx, state, days)
        db.session.flush()
