"""Commission transactions through the pages: the SPEC's worked example end to end, the client payment,
"client paid the CP directly", re-applying the fee rule, voiding, filters, totals and bad input."""

import io
import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, CommissionTransaction, Notification, StoredFile
from app.money import commissions
from tests import factories
from tests.conftest import login
from tests.storage_support import pdf_bytes
from tests.world_parts.w30_commissions import won_transaction


@pytest.fixture
def people(app):
    admin = factories.make_user("admin")
    super_admin = factories.make_user("super_admin")
    partner = factories.make_partner(company="Northwind Solutions", bank_account_number="001234567890")
    other = factories.make_partner(company="Other Co")
    factories.make_fee_config("percentage", "10")
    db.session.commit()
    return {"admin": admin, "super": super_admin, "cp": partner, "other": other}


def client_for(app, user):
    return login(app.test_client(), user)


def settle_key(html: str) -> str:
    return re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html).group(1)


def fresh(tx_id) -> CommissionTransaction:
    db.session.expire_all()
    return db.session.get(CommissionTransaction, tx_id)


def audit_actions(tx_id) -> list[str]:
    stmt = sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(tx_id)).order_by(AuditEvent.id)
    return list(db.session.scalars(stmt))


def test_spec_worked_example_from_won_to_received_through_the_pages(app, people):
    lead = factories.make_lead(
        assignee=people["cp"], title="Acme HQ solar", lead_value="10000", commission_amount="1000", kanban_stage="won"
    )
    tx = commissions.open_for_won_lead(lead, people["admin"])
    db.session.commit()
    assert (tx.gross_commission, tx.platform_fee, tx.net_commission) == (
        Decimal("1000"),
        Decimal("100"),
        Decimal("900"),
    )

    admin, cp = client_for(app, people["admin"]), client_for(app, people["cp"].user)
    listing = admin.get("/admin/commissions").get_data(as_text=True)
    assert "Acme HQ solar" in listing and "$1,000.00" in listing and "$100.00" in listing and "$900.00" in listing

    response = admin.post(
        f"/admin/commissions/{tx.id}/client-payment", data={"paid_on": "2026-01-15", "reference": "INV-77"}
    )
    assert response.status_code == 303
    assert fresh(tx.id).status == "due" and fresh(tx.id).client_payment_reference == "INV-77"

    assert cp.post(f"/cp/commissions/{tx.id}/request-settlement").status_code == 303
    queue = admin.get("/admin/commissions").get_data(as_text=True)
    assert 'id="settlement-queue"' in queue and "Acme HQ solar" in queue.split('id="settlement-queue"')[1]
    assert db.session.scalar(sa.select(Notification).where(Notification.event == "settlement_requested"))

    page = admin.get(f"/admin/commissions/{tx.id}").get_data(as_text=True)
    assert "001234567890" in page and "SWIFT code" in page and "Bank slip" in page and "Net commission" in page
    response = admin.post(
        f"/admin/commissions/{tx.id}/settle",
        data={
            "bank_slip": (io.BytesIO(pdf_bytes()), "transfer-slip.pdf"),
            "reference": "TRF-1",
            "confirmed_net": "900.00",
            "idempotency_key": settle_key(page),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    settled = fresh(tx.id)
    assert settled.status == "paid" and settled.settled_by == people["admin"].id and settled.settled_at is not None
    note = db.session.scalar(sa.select(Notification).where(Notification.event == "commission_settled"))
    assert note.user_id == people["cp"].user_id
    assert note.message == "Admin has settled $900.00 net commission for lead 'Acme HQ solar'. View your receipt."

    received = cp.get("/cp/commissions?tab=received").get_data(as_text=True)
    assert "Acme HQ solar" in received and "$900.00" in received
    settlements_tab = cp.get("/cp/commissions?tab=settlements").get_data(as_text=True)
    assert "transfer-slip.pdf" in settlements_tab
    totals = cp.get("/cp/commissions").get_data(as_text=True)
    assert re.search(r'data-total="Received">\$900.00<', totals)
    assert re.search(r'data-total="Net receivable">\$0.00<', totals)
    assert cp.get(f"/files/{settled.bank_slip_file_id}").status_code == 200
    receipt = cp.get(f"/cp/commissions/{tx.id}/receipt")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"

    trail = client_for(app, people["super"]).get(f"/admin/commissions/{tx.id}").get_data(as_text=True)
    assert "commission.settled" in trail and "commission.client_payment_recorded" in trail
    assert 'id="settle-form"' not in trail  # read-only for the super admin
    assert audit_actions(tx.id) == [
        "commission.opened",
        "commission.client_payment_recorded",
        "commission.settlement_requested",
        "commission.settled",
    ]


def test_client_payment_form_rejects_bad_input_and_writes_nothing(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Bad input lead")
    db.session.commit()
    admin = client_for(app, people["admin"])
    for data in (
        {},
        {"paid_on": "not a date"},
        {"paid_on": "2999-01-01"},
        {"paid_on": "2026-01-01", "reference": "x" * 500},
    ):
        response = admin.post(f"/admin/commissions/{tx.id}/client-payment", data=data)
        assert response.status_code == 422, data
    bad_file = {"paid_on": "2026-01-01", "attachment": (io.BytesIO(b"MZ not a pdf"), "remittance.pdf")}
    response = admin.post(
        f"/admin/commissions/{tx.id}/client-payment", data=bad_file, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and "content" in response.get_data(as_text=True).lower()
    assert fresh(tx.id).status == "pending"
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(StoredFile).where(StoredFile.kind == "client_payment"))
        == 0
    )
    assert audit_actions(tx.id) == ["commission.opened"]


def test_client_payment_with_attachment_and_refused_twice(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Attachment lead")
    db.session.commit()
    admin = client_for(app, people["admin"])
    data = {"paid_on": "2026-02-01", "attachment": (io.BytesIO(pdf_bytes()), "remittance.pdf")}
    response = admin.post(f"/admin/commissions/{tx.id}/client-payment", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    assert fresh(tx.id).client_payment_file_id is not None
    again = admin.post(f"/admin/commissions/{tx.id}/client-payment", data={"paid_on": "2026-02-02"})
    assert again.status_code == 409 and "only a pending commission" in again.get_data(as_text=True).lower()
    assert fresh(tx.id).client_paid_at == date(2026, 2, 1)


def test_client_paid_cp_directly_freezes_and_makes_the_fee_owed(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Direct lead")
    db.session.commit()
    admin = client_for(app, people["admin"])
    response = admin.post(f"/admin/commissions/{tx.id}/paid-directly", data={"paid_on": "2026-03-01"})
    assert response.status_code == 303
    flagged = fresh(tx.id)
    assert flagged.status == "paid" and flagged.client_paid_cp_directly
    with pytest.raises(commissions.CommissionFrozen):
        commissions.assert_can_change(flagged.lead)
    settle = admin.post(
        f"/admin/commissions/{tx.id}/settle", data={"confirmed_net": "900.00", "idempotency_key": "k" * 32}
    )
    assert settle.status_code == 409 and "already been settled" in settle.get_data(as_text=True)
    cp_page = client_for(app, people["cp"].user).get(f"/cp/commissions/{tx.id}").get_data(as_text=True)
    assert "Platform fee you owe" in cp_page and "Pay by bank transfer" in cp_page
    assert "by card" not in cp_page  # Stripe is not configured here (issue 20: no button leading nowhere)
    assert "You owe $100.00 in platform fees" in client_for(app, people["cp"].user).get("/cp/commissions").get_data(
        as_text=True
    )


def test_reapply_current_rule_on_an_unpaid_transaction_only(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Rule lead")
    factories.make_fee_config("percentage", "20")
    commissions.recompute(tx.lead, people["admin"])  # an edit keeps the snapshotted 10 %
    db.session.commit()
    assert fresh(tx.id).platform_fee == Decimal("100.00")
    admin = client_for(app, people["admin"])
    assert "Current rule for this lead: global 20 %" in admin.get(f"/admin/commissions/{tx.id}").get_data(as_text=True)
    assert admin.post(f"/admin/commissions/{tx.id}/reapply-rule").status_code == 303
    updated = fresh(tx.id)
    assert (updated.platform_fee, updated.net_commission, updated.fee_rule_value) == (
        Decimal("200.00"),
        Decimal("800.00"),
        Decimal("20"),
    )
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "commission.rule_reapplied"))
    assert event.before["platform_fee"] == "100.00" and event.after["platform_fee"] == "200.00"

    paid = won_transaction(people["cp"], people["admin"], "Paid rule lead", "paid")
    db.session.commit()
    factories.make_fee_config("percentage", "5")
    db.session.commit()
    refused = admin.post(f"/admin/commissions/{paid.id}/reapply-rule")
    assert refused.status_code == 409 and fresh(paid.id).platform_fee == Decimal("200.00")


def test_leaving_won_voids_and_void_cannot_be_settled(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Void lead", "due")
    lead = tx.lead
    lead.kanban_stage = "lost"
    commissions.on_stage_changed(lead, "won", people["admin"])
    db.session.commit()
    assert fresh(tx.id).status == "void"
    response = client_for(app, people["admin"]).post(
        f"/admin/commissions/{tx.id}/settle",
        data={"confirmed_net": "900.00", "idempotency_key": "v" * 32, "bank_slip": (io.BytesIO(pdf_bytes()), "s.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 409 and "voided" in response.get_data(as_text=True)


def test_filters_pagination_and_per_partner_history(app, people):
    due = won_transaction(people["cp"], people["admin"], "Due one", "due")
    due.settlement_requested_at = due.won_at
    won_transaction(people["cp"], people["admin"], "Paid one", "paid")
    won_transaction(people["other"], people["admin"], "Other pending")
    db.session.commit()
    admin = client_for(app, people["admin"])
    only_due = admin.get("/admin/commissions?status=due").get_data(as_text=True)
    assert "Due one" in only_due and "Paid one" not in only_due and "Other pending" not in only_due
    history = admin.get(f"/admin/commissions?cp={people['cp'].id}&status=paid").get_data(as_text=True)
    assert "Settlement history · Northwind Solutions" in history and "1 settled · $900.00 net paid" in history
    assert "Other pending" not in history
    requested = admin.get("/admin/commissions?requested=1", headers={"HX-Request": "true"})
    body = requested.get_data(as_text=True)
    assert "Due one" in body and "Paid one" not in body and "<html" not in body
    assert admin.get("/admin/commissions?status=bogus&cp=not-a-uuid&page=999").status_code == 200


def test_cp_sees_only_its_own_commissions_and_totals_reconcile(app, people):
    won_transaction(people["cp"], people["admin"], "Mine pending")
    won_transaction(people["cp"], people["admin"], "Mine due", "due")
    won_transaction(people["cp"], people["admin"], "Mine paid", "paid", commission_amount="333.33")
    theirs = won_transaction(people["other"], people["admin"], "Theirs due", "due")
    db.session.commit()
    cp = client_for(app, people["cp"].user)
    page = cp.get("/cp/commissions").get_data(as_text=True)
    assert "Mine pending" in page and "Mine paid" in page and "Theirs due" not in page
    totals = {k: Decimal(v.replace(",", "")) for k, v in re.findall(r'data-total="([^"]+)">\$([0-9,.]+)<', page)}
    assert totals["Gross commission"] == Decimal("2333.33")
    assert (
        totals["Platform fees deducted"] + totals["Net receivable"] + totals["Received"] == totals["Gross commission"]
    )
    assert totals["Received"] == Decimal("300.00")  # 333.33 − 33.33
    assert cp.get(f"/cp/commissions/{theirs.id}").status_code == 404
    assert cp.post(f"/cp/commissions/{theirs.id}/request-settlement").status_code == 404
    for tab in ("settlements", "received", "payments", "nonsense"):
        assert cp.get(f"/cp/commissions?tab={tab}").status_code == 200
