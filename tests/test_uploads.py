"""The upload rejection corpus, the accepted types, and who may download which file."""

import io
from decimal import Decimal

import pytest
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.files import storage, visibility
from app.models import CommissionTransaction, CpPayment, LeadEvidence, PlatformFeeSettlement, ReportExport, StoredFile
from tests import factories
from tests.conftest import login
from tests.storage_support import docx_bytes, jpeg_bytes, pdf_bytes, png_bytes, stored_keys

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


REJECTED = [
    ("oversize.pdf", None, "too large"),  # bytes made in the test: one over the limit
    ("quote.pdf", b"<!doctype html><html><body>phish</body></html>", "does not match its .pdf"),
    ("photo.jpg", b"#!/bin/sh\nrm -rf /\n", "does not match its .jpg"),
    ("photo.png", jpeg_bytes(), "does not match its .png"),
    ("invoice.pdf.exe", b"MZ\x90\x00", "two extensions"),
    ("invoice.exe.pdf", pdf_bytes(), "two extensions"),
    ("../../etc/passwd.pdf", pdf_bytes(), "must not contain a path"),
    ("..\\boot.ini.pdf", pdf_bytes(), "must not contain a path"),
    ("/abs/path.png", png_bytes(), "must not contain a path"),
    ("empty.pdf", b"", "empty"),
    ("truncated.png", png_bytes((64, 64))[:-30], "damaged or incomplete"),
    ("truncated.jpg", jpeg_bytes((128, 128))[:300], "damaged or incomplete"),
    ("cut.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "incomplete"),
    ("script.svg", b"<svg onload=alert(1)>", "not accepted"),
    ("noextension", pdf_bytes(), "needs an extension"),
    (".htaccess", b"Deny from all", "start with a dot"),
    ("fake.docx", b"PK\x03\x04not really a zip", "damaged"),
    ("sheet.xlsx", docx_bytes(), "not a .xlsx"),
    ("notes.txt", b"binary\x00\x01\x02", "does not match its .txt"),
    ("table.csv", "\u00e9t\u00e9".encode("latin-1"), "not plain text"),
    ("old.doc", pdf_bytes(), "does not match its .doc"),
]


@pytest.mark.parametrize(("name", "data", "message"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejection_corpus_stores_nothing(app, name, data, message):
    if data is None:
        data = b"%PDF-1.4\n" + b"0" * app.config["MAX_UPLOAD_BYTES"] + b"\n%%EOF"
    before = stored_keys(app)
    with pytest.raises(storage.UploadRejected, match=message):
        storage.save_upload(upload(data, name), "evidence", actor=None)
    assert stored_keys(app) == before
    assert db.session.scalar(db.select(db.func.count(StoredFile.id))) == 0


def test_images_only_where_only_images_are_allowed(app):
    with pytest.raises(storage.UploadRejected, match="Allowed: JPEG, PNG or WebP images"):
        storage.save_upload(upload(pdf_bytes(), "logo.pdf"), "logo", actor=None, allowed=("image",))


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("a.png", png_bytes(), "image/png"),
        ("b.JPEG", jpeg_bytes(), "image/jpeg"),
        ("c.pdf", pdf_bytes(), "application/pdf"),
        ("d.docx", docx_bytes(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("e.xls", OLE, "application/vnd.ms-excel"),
        ("f.csv", b"name,email\nAda,ada@example.test\n", "text/csv"),
        ("report.v2 final.pdf", pdf_bytes(), "application/pdf"),
        ("Überweisung – März.pdf", pdf_bytes(), "application/pdf"),
    ],
)
def test_accepted_types(app, name, data, content_type):
    row = storage.save_upload(upload(data, name), "evidence", actor=None)
    assert row.content_type == content_type and row.original_name == name


def test_webp_is_accepted(app):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, "WEBP")
    assert storage.save_upload(upload(buffer.getvalue(), "w.webp"), "logo", actor=None).content_type == "image/webp"


def test_a_rejected_form_upload_answers_422_with_the_message_beside_the_field(login_as, app):
    client = login_as("admin")
    before = stored_keys(app)
    data = {"avatar": (io.BytesIO(b"<script>alert(1)</script>"), "me.jpg"), "action": "upload"}
    response = client.post("/account", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "does not match its .jpg extension" in response.get_data(as_text=True)
    assert stored_keys(app) == before


# --- who may see which file ------------------------------------------------------------------


def _file(kind: str, **kw) -> StoredFile:
    return storage.save_bytes(pdf_bytes(), kind, f"{kind}.pdf", "application/pdf", **kw)


def _transaction(partner, lead, **kw) -> CommissionTransaction:
    tx = CommissionTransaction(
        lead_id=lead.id,
        cp_id=partner.id,
        gross_commission=Decimal("100.00"),
        platform_fee=Decimal("10.00"),
        net_commission=Decimal("90.00"),
        status="due",
        fee_rule_type="percentage",
        fee_rule_value=Decimal("10"),
        fee_rule_source="global",
        **kw,
    )
    db.session.add(tx)
    db.session.flush()
    return tx


def test_can_view_rules(app):
    admin, boss = factories.make_user("admin"), factories.make_user("super_admin")
    cp, other = factories.make_partner(), factories.make_partner()
    assigned, originated = factories.make_lead(assignee=cp), factories.make_lead(originator=cp)
    evidence_a, evidence_o = _file("evidence"), _file("evidence")
    db.session.add_all(
        [
            LeadEvidence(lead_id=assigned.id, file_id=evidence_a.id, file_type="pdf"),
            LeadEvidence(lead_id=originated.id, file_id=evidence_o.id, file_type="pdf"),
        ]
    )
    slip, client_paid, fee_slip, receipt = _file("bank_slip"), _file("client_payment"), _file("bank_slip"), None
    tx = _transaction(cp, assigned, bank_slip_file_id=slip.id, client_payment_file_id=client_paid.id)
    receipt = _file("payment_receipt")
    db.session.add(
        CpPayment(
            commission_tx_id=tx.id,
            cp_id=cp.id,
            payment_method="bank_transfer",
            amount=Decimal("10"),
            status="pending",
            receipt_file_id=receipt.id,
        )  # fmt: skip
    )
    settlement = PlatformFeeSettlement(
        amount=Decimal("10"), lead_count=1, settled_by=admin.id, bank_slip_file_id=fee_slip.id, idempotency_key="k1"
    )
    report = _file("report", actor=boss)
    db.session.add_all(
        [settlement, ReportExport(requested_by=boss.id, kind="income", status="done", file_id=report.id)]
    )
    logo = _file("logo", cp_id=other.id)
    db.session.flush()

    for private in (evidence_a, evidence_o, slip, client_paid, receipt):
        assert visibility.can_view(cp.user, private) and not visibility.can_view(other.user, private)
        assert visibility.can_view(admin, private) and visibility.can_view(boss, private)
    assert not visibility.can_view(cp.user, fee_slip) and visibility.can_view(admin, fee_slip)
    assert visibility.can_view(boss, report) and not visibility.can_view(admin, report)
    assert not visibility.can_view(cp.user, report)
    assert visibility.can_view(cp.user, logo)
    unready = _file("evidence", actor=cp.user)
    unready.is_ready = False
    assert not visibility.can_view(cp.user, unready)


def test_another_cp_gets_404_for_a_guessed_file_id(app):
    cp, other = factories.make_partner(), factories.make_partner()
    lead = factories.make_lead(assignee=cp)
    evidence = _file("evidence", cp_id=cp.id)
    db.session.add(LeadEvidence(lead_id=lead.id, file_id=evidence.id, file_type="pdf"))
    db.session.commit()
    assert login(app.test_client(), cp.user).get(f"/files/{evidence.id}").status_code == 200
    assert login(app.test_client(), other.user).get(f"/files/{evidence.id}").status_code == 404
