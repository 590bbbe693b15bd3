"""The CP paying the platform fee it owes: Stripe Checkout against a local stub of the Stripe API,
the signed webhook (bad signature, repeats, out-of-order events), and bank transfer with admin review."""

import io
import json
import time

import pytest
import sqlalchemy as sa
import stripe

from app.extensions import db
from app.models import AuditEvent, CommissionTransaction, Notification, StripeEvent
from tests import factories, stripe_support
from tests.conftest import login
from tests.storage_support import pdf_bytes
from tests.stripe_support import SECRET, deliver, event, payments_of, signed, start_checkout
from tests.world_parts.w30_commissions import won_transaction

stripe_stub, direct = stripe_support.stripe_stub, stripe_support.direct  # fixtures


def test_checkout_session_is_created_on_the_local_stub_and_stays_pending(app, stripe_stub, direct):
    payment = start_checkout(app, direct)
    assert payment.status == "pending" and payment.payment_method == "card"
    assert payment.stripe_checkout_session_id.startswith("cs_test_")
    (request,) = stripe_stub.requests
    assert request["path"] == "/v1/checkout/sessions" and request["auth"] == "Bearer sk_test_local"
    fields = request["fields"]
    assert fields["metadata[payment_id]"] == str(payment.id)
    assert fields["line_items[0][price_data][unit_amount]"] == "10000"
    assert fields["mode"] == "payment"
    page = login(app.test_client(), direct["cp"].user).get(f"/cp/commissions/{direct['tx_id']}?checkout=success")
    assert "as soon as Stripe confirms it" in page.get_data(as_text=True)


def test_signed_completed_event_completes_the_payment(app, stripe_stub, direct):
    payment = start_checkout(app, direct)
    payload = event(payment)
    assert stripe.WebhookSignature.generate_signature_header(payload, SECRET, timestamp=1_700_000_000) == signed(
        payload, timestamp=1_700_000_000
    )
    response = deliver(app, payload)
    assert response.status_code == 200 and response.json == {"received": True, "processed": True}
    (done,) = payments_of(direct["tx_id"])
    assert done.status == "completed" and done.stripe_payment_id == f"pi_test_{str(done.id)[:8]}" and done.completed_at
    note = db.session.scalar(sa.select(Notification).where(Notification.event == "cp_payment_reviewed"))
    assert note.message == "Your $100.00 platform-fee payment for lead 'Direct deal' was received."
    admin_page = login(app.test_client(), direct["admin"]).get(f"/admin/commissions/{direct['tx_id']}")
    assert "collected" in admin_page.get_data(as_text=True)
    receipt = login(app.test_client(), direct["cp"].user).get(f"/cp/payments/{done.id}/receipt")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"


@pytest.mark.parametrize(
    "make_signature",
    [
        lambda payload: signed(payload, secret="whsec_wrong"),
        lambda payload: signed(payload + " "),
        lambda payload: signed(payload, timestamp=int(time.time()) - 3600),  # replayed long after
        lambda payload: "",
        lambda payload: "t=abc,v1=zzz",
        lambda payload: "garbage",
    ],
)
def test_a_bad_signature_is_rejected_and_nothing_changes(app, stripe_stub, direct, make_signature):
    payment = start_checkout(app, direct)
    payload = event(payment)
    response = deliver(app, payload, make_signature(payload))
    assert response.status_code == 400
    assert payments_of(direct["tx_id"])[0].status == "pending"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == 0


def test_an_unsigned_request_without_a_configured_secret_is_rejected(app, direct):
    assert deliver(app, "{}", "t=1,v1=00").status_code == 400


def test_the_same_event_delivered_three_times_completes_once(app, stripe_stub, direct):
    payment = start_checkout(app, direct)
    payload = event(payment, event_id="evt_repeat_1")
    results = [deliver(app, payload) for _ in range(3)]
    assert [r.status_code for r in results] == [200, 200, 200]
    assert [r.json["processed"] for r in results] == [True, False, False]
    assert payments_of(direct["tx_id"])[0].status == "completed"
    completed = sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "payment.completed")
    assert db.session.scalar(completed) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == 1
    notes = sa.select(sa.func.count()).select_from(Notification).where(Notification.event == "cp_payment_reviewed")
    assert db.session.scalar(notes) == 1


def test_events_out_of_order_do_not_break_state(app, stripe_stub, direct):
    payment = start_checkout(app, direct)
    assert deliver(app, event(payment)).status_code == 200
    for late in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        assert deliver(app, event(payment, late, payment_status="unpaid")).status_code == 200
    assert payments_of(direct["tx_id"])[0].status == "completed"


def test_completed_after_expired_still_records_the_money(app, stripe_stub, direct):
    payment = start_checkout(app, direct)
    deliver(app, event(payment, "checkout.session.expired", payment_status="unpaid"))
    assert payments_of(direct["tx_id"])[0].status == "failed"
    deliver(app, event(payment, "checkout.session.completed", payment_status="unpaid"))  # not paid yet: no change
    assert payments_of(direct["tx_id"])[0].status == "failed"
    deliver(app, event(payment, "checkout.session.async_payment_succeeded"))
    assert payments_of(direct["tx_id"])[0].status == "completed"


def test_unknown_payment_and_irrelevant_events_are_acknowledged(app, stripe_stub, direct):
    stranger = json.dumps(
        {
            "id": "evt_x",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {
                "object": {"id": "cs_none", "object": "checkout.session", "metadata": {"payment_id": "not-a-uuid"}}
            },
        }
    )
    assert deliver(app, stranger).status_code == 200
    assert deliver(app, "not json").status_code == 400


def test_card_payment_refused_when_nothing_is_owed_or_stripe_fails(app, stripe_stub, direct):
    admin = direct["admin"]
    due = won_transaction(direct["cp"], admin, "Normal deal", "due")
    db.session.commit()
    cp = login(app.test_client(), direct["cp"].user)
    response = cp.post(f"/cp/commissions/{due.id}/pay/card")
    assert response.status_code == 409 and "No platform fee is owed" in response.get_data(as_text=True)
    stripe_stub.fail = True
    response = cp.post(f"/cp/commissions/{direct['tx_id']}/pay/card")
    assert response.status_code == 409 and "could not be started" in response.get_data(as_text=True)
    assert payments_of(direct["tx_id"]) == []
    other = factories.make_partner()
    db.session.commit()
    assert login(app.test_client(), other.user).post(f"/cp/commissions/{direct['tx_id']}/pay/card").status_code == 404


def test_bank_transfer_receipt_rejected_then_confirmed(app, direct):
    cp = login(app.test_client(), direct["cp"].user)
    admin = login(app.test_client(), direct["admin"])
    url = f"/cp/commissions/{direct['tx_id']}/pay/bank-transfer"
    bad = cp.post(url, data={"receipt": (io.BytesIO(b"hello"), "r.pdf")}, content_type="multipart/form-data")
    assert bad.status_code == 422 and payments_of(direct["tx_id"]) == []
    upload = {"receipt": (io.BytesIO(pdf_bytes()), "transfer.pdf")}
    assert cp.post(url, data=upload, content_type="multipart/form-data").status_code == 303
    (payment,) = payments_of(direct["tx_id"])
    assert payment.status == "pending" and payment.receipt_file_id
    alert = db.session.scalar(sa.select(Notification).where(Notification.event == "bank_receipt_uploaded"))
    assert alert.user_id == direct["admin"].id and "$100.00" in alert.message
    again = cp.post(url, data={"receipt": (io.BytesIO(pdf_bytes()), "t2.pdf")}, content_type="multipart/form-data")
    assert again.status_code == 409 and "waiting for an admin" in again.get_data(as_text=True)
    assert "Bank-transfer receipts to review" in admin.get("/admin/commissions").get_data(as_text=True)
    assert admin.get(f"/files/{payment.receipt_file_id}").status_code == 200

    review = f"/admin/commissions/payments/{payment.id}/review"
    assert admin.post(review, data={"decision": "reject"}).status_code == 422  # a rejection needs a note
    assert admin.post(review, data={"decision": "reject", "note": "Amount does not match."}).status_code == 303
    assert payments_of(direct["tx_id"])[0].status == "failed"
    assert admin.post(review, data={"decision": "confirm"}).status_code == 409  # already reviewed
    page = cp.get("/cp/commissions?tab=payments").get_data(as_text=True)
    assert "Failed" in page and "Amount does not match." in page

    assert (
        cp.post(
            url, data={"receipt": (io.BytesIO(pdf_bytes()), "t3.pdf")}, content_type="multipart/form-data"
        ).status_code
        == 303
    )
    newest = next(p for p in payments_of(direct["tx_id"]) if p.status == "pending")
    assert (
        admin.post(f"/admin/commissions/payments/{newest.id}/review", data={"decision": "confirm"}).status_code == 303
    )
    db.session.expire_all()
    assert newest.status == "completed" and newest.reviewed_by == direct["admin"].id
    outcomes = db.session.scalars(sa.select(Notification.message).where(Notification.event == "cp_payment_reviewed"))
    assert sorted(m.rsplit(" ", 1)[1] for m in outcomes) == ["confirmed.", "rejected."]
    owed = cp.get(f"/cp/commissions/{direct['tx_id']}").get_data(as_text=True)
    assert "Pay $100.00 by card" not in owed and "paid</span>" in owed
    tx = db.session.get(CommissionTransaction, direct["tx_id"])
    assert tx.status == "paid" and tx.gross_commission == tx.platform_fee + tx.net_commission
