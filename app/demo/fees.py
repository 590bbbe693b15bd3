"""Demo platform fees: a rule history (8 % pilot → 10 %), won deals paid out to their partners whose fees were
settled to the super admin with generated bank slips, and fees still outstanding (one ready to settle and
overdue, one waiting for the client). Safe to run twice."""

import io
import uuid
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage

from app.demo.finance import partner_by_email, won_lead
from app.extensions import db
from app.files import storage
from app.models import Lead, PlatformFeeConfig, PlatformFeeSettlement, User
from app.models.base import utcnow
from app.money import commissions, fee_settlements, fees, settlements
from app.web.money import format_money

PILOT_NOTE = "Pilot rate for the first partners (demo history)"
# title, partner email, lead value, commission, days since won, commission paid out to the CP
DEALS = [
    ("Rooftop solar for Harbor Mall", "cp1@demo.test", "48000", "4800", 150, True),
    ("Fleet telematics for Metro Cabs", "cp2@demo.test", "22000", "1650", 120, True),
    ("Smart lockers for Ødegaard Logistics", "cp3@demo.test", "15500", "1240", 95, True),
    ("Office Wi-Fi refresh for Kline & Sons", "cp1@demo.test", "9000", "900", 70, True),
    ("Heat pumps for Riverside Schools", "cp2@demo.test", "61000", "5490", 45, True),  # ready, overdue
    ("CCTV upgrade for Lakeside Depot", "cp3@demo.test", "7200", "720", 6, False),  # client has not paid
]
# idempotency key, deals covered (by index), days ago settled, note
SETTLEMENTS = [
    ("demo-fee-settlement-1", (0, 1), 100, "Q2 platform fees, transfer ref. HB-20418"),
    ("demo-fee-settlement-2", (2, 3), 40, "Monthly settlement, transfer ref. HB-21077"),
]


def _slip_pdf(reference: str, amount: Decimal) -> bytes:
    """A plausible bank transfer confirmation, drawn for the demo."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(72, 770, "First Capital Bank — transfer confirmation")
    pdf.setFont("Helvetica", 11)
    lines = [f"Reference: {reference}", f"Amount: {format_money(amount)}", "From: LeadFlow PM operations account"]
    for offset, line in enumerate(lines + ["To: LeadFlow PM platform owner", "Status: Executed"]):
        pdf.drawString(72, 730 - 18 * offset, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _seed_rule_history(admin: User) -> None:
    exists = db.session.scalar(sa.select(PlatformFeeConfig.id).where(PlatformFeeConfig.notes == PILOT_NOTE))
    if exists is None:
        db.session.add(
            PlatformFeeConfig(
                fee_type="percentage",
                fee_value=Decimal("8"),
                is_active=False,
                created_by=admin.id,
                effective_from=utcnow() - timedelta(days=200),
                notes=PILOT_NOTE,
            )
        )
    if fees.active_global_rule() is None:
        fees.set_global_rule("percentage", Decimal("10"), "Standard rate after the pilot", admin)
    db.session.flush()


def _pay_out(tx, admin: User, won_at) -> None:
    """Client payment recorded and the net commission settled to the CP with a slip (pending → due → paid)."""
    commissions.record_client_payment(tx, admin, (won_at + timedelta(days=3)).date(), "INV-" + str(tx.id)[:6].upper())
    slip = FileStorage(
        stream=io.BytesIO(_slip_pdf("Commission payout", tx.net_commission)),
        filename="commission-slip.pdf",
        content_type="application/pdf",
    )
    settlements.settle_to_cp(tx, admin, slip, "PAYOUT-" + str(tx.id)[:6].upper(), uuid.uuid4().hex, tx.net_commission)
    tx.client_paid_at, tx.settled_at = (won_at + timedelta(days=3)).date(), won_at + timedelta(days=5)


def _won_deal(admin: User, title: str, email: str, value: str, commission: str, days: int, paid: bool):
    lead = db.session.scalar(sa.select(Lead).where(Lead.title == title))
    if lead is not None:
        return commissions.transaction_for(lead)
    partner = partner_by_email(email)
    if partner is None:
        return None
    lead, tx = won_lead(admin, partner, title, value, commission, days)
    won_at = tx.won_at  # our own demo deal: won in the past, so the chart and overdue flag have history
    if paid:
        _pay_out(tx, admin, won_at)
    db.session.flush()
    return tx


def seed() -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    if admin is None:
        return
    _seed_rule_history(admin)
    txs = [_won_deal(admin, *deal) for deal in DEALS]
    for key, indexes, days_ago, note in SETTLEMENTS:
        if db.session.scalar(sa.select(PlatformFeeSettlement.id).where(PlatformFeeSettlement.idempotency_key == key)):
            continue
        chosen = [txs[i] for i in indexes if txs[i] is not None and txs[i].fee_settlement_item is None]
        if not chosen:
            continue
        amount = sum((tx.platform_fee for tx in chosen), Decimal("0.00"))
        slip = storage.save_bytes(_slip_pdf(note, amount), "bank_slip", f"{key}.pdf", "application/pdf", actor=admin)
        settlement, _ = fee_settlements.settle_fees(
            admin, idempotency_key=key, slip=slip, note=note, transaction_ids=[tx.id for tx in chosen]
        )
        settlement.settled_at = utcnow() - timedelta(days=days_ago)
        db.session.flush()
