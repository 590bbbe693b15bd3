"""Deleting a lead never leaves a receipt disagreeing with its lines (issue 15 item 9).

A lead whose fee sits in a platform-fee settlement, whose commission was paid, or whose fee the partner
paid is kept: the super admin's delete form answers 409 with the reason and nothing changes. Checked
through /super/leads, against the settlement page, its receipt PDF and the income dashboard.
"""

import io
import re
from decimal import Decimal

import pypdf
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, CommissionTransaction, CpPayment, Lead, PlatformFeeSettlement
from app.models.base import utcnow
from app.money import commissions
from tests import factories
from tests.fee_support import settle, won

HX = {"HX-Request": "true"}
BOTH_CONFIRMATIONS = {"confirm": "yes", "confirm_again": "yes"}


def dashboard_figures(client) -> dict:
    """Generated, settled and outstanding as the super admin's income dashboard shows them."""
    body = client.get("/super/").get_data(as_text=True)
    return dict(re.findall(r'data-total="(\w+)">([^<]+)<', body))


def settled_figure(client) -> str:
    return dashboard_figures(client)["settled"]


def receipt_text(client, settlement_id) -> str:
    response = client.get(f"/super/settlements/{settlement_id}/receipt.pdf")
    assert response.status_code == 200
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.data)).pages)


def settlement_facts(client, settlement_id) -> dict:
    """The settlement as stored, as its lines add up, as the dashboard and the receipt show it."""
    db.session.expire_all()
    settlement = db.session.get(PlatformFeeSettlement, settlement_id)
    receipt = receipt_text(client, settlement_id)
    facts = {
        "amount": settlement.amount,
        "lead_count": settlement.lead_count,
        "lines": len(settlement.items),
        "line_total": sum((item.amount for item in settlement.items), Decimal("0.00")),
        "dashboard_settled": settled_figure(client),
        "receipt_total": re.search(r"Total\s*\$([\d,.]+)", receipt).group(1),
        "receipt_leads": re.search(r"(\d+) leads?", receipt).group(1),
    }
    db.session.rollback()
    return facts


def test_a_lead_in_a_two_lead_fee_settlement_cannot_be_deleted_and_every_figure_still_agrees(app, login_as):
    admin, owner = factories.make_user("admin"), factories.make_user("super_admin")
    partner = factories.make_partner()
    factories.make_fee_config()
    big = won(partner, admin, commission="4800", title="Big deal")  # fee 480.00
    small = won(partner, admin, commission="1650", title="Small deal")  # fee 165.00
    settlement = settle(admin, [big, small])
    db.session.commit()
    client = login_as(owner)
    before = settlement_facts(client, settlement.id)
    assert before == {
        "amount": Decimal("645.00"),
        "lead_count": 2,
        "lines": 2,
        "line_total": Decimal("645.00"),
        "dashboard_settled": "$645.00",
        "receipt_total": "645.00",
        "receipt_leads": "2",
    }
    page = client.get(f"/super/leads/{big.lead_id}").get_data(as_text=True)
    assert "cannot be deleted" in page and "Delete lead" not in page

    for answer in (
        client.post(f"/super/leads/{big.lead_id}/delete", data=BOTH_CONFIRMATIONS),
        client.delete(f"/super/leads/{big.lead_id}", query_string=BOTH_CONFIRMATIONS, headers=HX),
    ):
        assert answer.status_code == 409
        body = answer.get_data(as_text=True)
        assert "This lead cannot be deleted" in body and "$645.00 for 2 leads" in body
        assert "Yes, delete it anyway" not in body  # no way around it

    assert db.session.get(Lead, big.lead_id) is not None
    assert db.session.get(CommissionTransaction, big.id) is not None
    assert settlement_facts(client, settlement.id) == before
    assert not db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "lead.deleted"))


def test_a_paid_commission_or_a_completed_partner_payment_keeps_its_lead(app, login_as):
    admin, owner = factories.make_user("admin"), factories.make_user("super_admin")
    partner = factories.make_partner()
    factories.make_fee_config()
    paid = won(partner, admin, commission="1000", title="Paid to the partner")
    direct = won(partner, admin, commission="2000", title="Client paid the partner", paid=False)
    commissions.flag_paid_directly(direct, admin, utcnow().date(), "DIRECT")
    payment = CpPayment(
        commission_tx_id=direct.id,
        cp_id=partner.id,
        payment_method="bank_transfer",
        amount=direct.platform_fee,
        status="completed",
        completed_at=utcnow(),
    )
    db.session.add(payment)
    db.session.commit()
    client = login_as(owner)
    figures = dashboard_figures(client)

    answer = client.post(f"/super/leads/{paid.lead_id}/delete", data=BOTH_CONFIRMATIONS)
    assert answer.status_code == 409 and "commission was paid to the partner" in answer.get_data(as_text=True)
    answer = client.post(f"/super/leads/{direct.lead_id}/delete", data=BOTH_CONFIRMATIONS)
    assert answer.status_code == 409 and "the partner paid its platform fee" in answer.get_data(as_text=True)

    db.session.expire_all()
    assert db.session.get(Lead, paid.lead_id) and db.session.get(Lead, direct.lead_id)
    assert db.session.get(CpPayment, payment.id).status == "completed"
    assert dashboard_figures(client) == figures


def test_a_lead_with_only_a_recorded_client_payment_is_deleted_after_two_confirmations(app, login_as):
    admin, owner = factories.make_user("admin"), factories.make_user("super_admin")
    partner = factories.make_partner()
    factories.make_fee_config()
    due = won(partner, admin, commission="1000", title="Client paid us", paid=False)
    commissions.record_client_payment(due, admin, utcnow().date(), "CLIENT-1")
    kept = won(partner, admin, commission="500", title="Still pending", paid=False)
    db.session.commit()
    lead_id, tx_id = due.lead_id, due.id
    client = login_as(owner)

    first = client.post(f"/super/leads/{lead_id}/delete", data={"confirm": "yes"})
    assert first.status_code == 409 and "Confirm a second time" in first.get_data(as_text=True)
    assert "Yes, delete it anyway" in first.get_data(as_text=True)
    second = client.post(f"/super/leads/{lead_id}/delete", data=BOTH_CONFIRMATIONS)
    assert second.status_code == 302
    db.session.expire_all()
    assert db.session.get(Lead, lead_id) is None and db.session.get(CommissionTransaction, tx_id) is None
    kept_fee = db.session.get(CommissionTransaction, kept.id).platform_fee
    assert dashboard_figures(client) == {"generated": f"${kept_fee:,.2f}", "settled": "$0.00",
                                         "outstanding": f"${kept_fee:,.2f}"}  # fmt: skip
