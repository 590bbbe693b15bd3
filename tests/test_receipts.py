"""PDF receipts: parties, amounts, leads covered, reference and a non-ASCII name survive into the PDF text."""

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.models import CpPayment
from app.models.base import utcnow
from app.money import receipts
from tests import factories
from tests.fee_support import pay_out, settle, won


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    assert reader.pages[0].mediabox.width == pytest.approx(595.27, abs=1)  # A4
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def deal(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner(
        company="Ødegaard & Co.", bank_name="Nordea Bank", bank_account_number="NO9386011117947"
    )
    admin = factories.make_user("admin", name="Zoë Łukasz")
    factories.make_user("super_admin", name="Søren Owner")
    tx = won(cp, admin, commission="1000", value="10000", title="Café Straße rollout", paid=False)
    return cp, admin, tx


def test_commission_settlement_receipt(deal):
    cp, admin, tx = deal
    tx.client_paid_at = date(2026, 3, 2)
    tx.status, tx.settled_at, tx.settled_by, tx.settlement_reference = "paid", utcnow(), admin.id, "TRF-778"
    db.session.flush()
    text = pdf_text(receipts.commission_settlement_pdf(tx))
    for expected in (
        "Commission settlement receipt",
        receipts.receipt_number("CS", tx.id),
        "Ødegaard & Co.",
        "Zoë Łukasz",
        "Nordea Bank",
        "•••••••••••7947",
        "Café Straße rollout",
        "$10,000.00",
        "$1,000.00",
        "$100.00",
        "$900.00",
        "TRF-778",
        "02 Mar 2026",
    ):
        assert expected in text, expected
    assert "NO9386011117947" not in text  # the full account number is not printed


def test_an_unsettled_commission_has_no_receipt(deal):
    _cp, _admin, tx = deal
    with pytest.raises(receipts.ReceiptUnavailable):
        receipts.commission_settlement_pdf(tx)


def test_fee_settlement_receipt_lists_every_lead(deal):
    cp, admin, tx = deal
    pay_out(tx, admin)
    other = won(cp, admin, commission="333.33", title="Zweite Phase")
    settlement = settle(admin, [tx, other], note="Überweisung März")
    text = pdf_text(receipts.fee_settlement_pdf(settlement))
    for expected in (
        "Platform fee settlement receipt",
        receipts.receipt_number("FS", settlement.id),
        "Søren Owner",
        "Zoë Łukasz",
        "Café Straße rollout",
        "Zweite Phase",
        "Ødegaard & Co.",
        "$100.00",
        "$33.33",
        "$133.33",
        "2 leads",
        "Überweisung März",
        "slip.pdf",
    ):
        assert expected in text, expected


def test_cp_payment_receipt(deal):
    cp, _admin, tx = deal
    payment = CpPayment(
        commission_tx_id=tx.id,
        cp_id=cp.id,
        payment_method="card",
        amount=Decimal("100.00"),
        status="completed",
        stripe_payment_id="pi_123",
        completed_at=utcnow(),
    )
    db.session.add(payment)
    db.session.flush()
    text = pdf_text(receipts.cp_payment_pdf(payment))
    for expected in (
        "Platform fee payment receipt",
        "Ødegaard & Co.",
        "Card (Stripe)",
        "pi_123",
        "$100.00",
        "Café Straße",
    ):
        assert expected in text, expected
    payment.status = "pending"
    with pytest.raises(receipts.ReceiptUnavailable):
        receipts.cp_payment_pdf(payment)


def test_without_dejavu_the_receipt_falls_back_to_helvetica(deal, monkeypatch):
    cp, admin, tx = deal
    pay_out(tx, admin)
    monkeypatch.setattr(receipts, "FONT_DIRS", ())
    monkeypatch.setattr(receipts.pdfmetrics, "getRegisteredFontNames", lambda: [])
    assert receipts._register_fonts() == ("Helvetica", "Helvetica-Bold")
    settlement = settle(admin, [tx])
    assert "Platform fee settlement receipt" in pdf_text(receipts.fee_settlement_pdf(settlement))
