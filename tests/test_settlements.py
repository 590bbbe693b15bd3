"""Settling to the CP: refusals, a stale amount, a rejected slip, a double-submitted form (CSRF on),
20 concurrent settlements on PostgreSQL, and the CP's settlement requests."""

import io
import re
import threading
import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, CommissionTransaction, Notification, StoredFile
from app.money import settlements
from tests import factories
from tests.conftest import login, make_app, requires_postgres
from tests.storage_support import pdf_bytes, png_bytes
from tests.world_parts.w30_commissions import won_transaction


@pytest.fixture
def people(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Blue Harbor Partners")
    factories.make_fee_config("percentage", "10")
    db.session.commit()
    return {"admin": admin, "cp": partner}


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def settle_data(key=None, net="900.00", slip=None, name="slip.pdf") -> dict:
    return {
        "bank_slip": (io.BytesIO(pdf_bytes() if slip is None else slip), name),
        "reference": "TRF-9",
        "confirmed_net": net,
        "idempotency_key": key or uuid.uuid4().hex,
    }


def post_settle(client, tx_id, **kw):
    return client.post(f"/admin/commissions/{tx_id}/settle", data=settle_data(**kw), content_type="multipart/form-data")


def state(tx_id):
    db.session.expire_all()
    return db.session.get(CommissionTransaction, tx_id)


def test_settling_a_pending_transaction_is_refused(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Not paid by client yet")
    db.session.commit()
    response = post_settle(login(app.test_client(), people["admin"]), tx.id)
    assert response.status_code == 409 and "Record the client payment first" in response.get_data(as_text=True)
    assert state(tx.id).status == "pending" and count(StoredFile) == 0


def test_a_stale_net_amount_is_refused_and_nothing_changes(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Amount changed", "due")
    tx.lead.commission_amount = 800
    from app.money import commissions

    commissions.recompute(tx.lead, people["admin"])
    db.session.commit()
    response = post_settle(login(app.test_client(), people["admin"]), tx.id, net="900.00")
    assert response.status_code == 409 and "now $720.00" in response.get_data(as_text=True)
    assert state(tx.id).status == "due" and count(StoredFile) == 0


@pytest.mark.parametrize(
    "slip, name",
    [(b"MZ\x90\x00 not a pdf", "slip.pdf"), (b"", "empty.pdf"), (png_bytes(), "slip.exe"), (png_bytes(), "a.pdf.exe")],
)
def test_a_rejected_slip_changes_nothing(app, people, slip, name):
    tx = won_transaction(people["cp"], people["admin"], "Bad slip", "due")
    db.session.commit()
    response = post_settle(login(app.test_client(), people["admin"]), tx.id, slip=slip, name=name)
    assert response.status_code == 422
    assert 'id="bank_slip-error"' in response.get_data(as_text=True)
    after = state(tx.id)
    assert after.status == "due" and after.bank_slip_file_id is None and after.settlement_key is None
    assert count(StoredFile) == 0 and count(AuditEvent, AuditEvent.action == "commission.settled") == 0


@pytest.mark.parametrize("net", ["NaN", "Infinity", "-900", "1e999", "9" * 40, "900.001", "nine hundred", ""])
def test_bad_net_amounts_are_form_errors(app, people, net):
    tx = won_transaction(people["cp"], people["admin"], "Bad number", "due")
    db.session.commit()
    response = post_settle(login(app.test_client(), people["admin"]), tx.id, net=net)
    assert response.status_code == 422 and state(tx.id).status == "due"


def test_settled_slip_is_the_cps_own_and_the_notification_links_to_it(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Slip visibility", "due")
    other = factories.make_partner(company="Someone Else")
    db.session.commit()
    assert post_settle(login(app.test_client(), people["admin"]), tx.id).status_code == 303
    settled = state(tx.id)
    assert login(app.test_client(), people["cp"].user).get(f"/files/{settled.bank_slip_file_id}").status_code == 200
    assert login(app.test_client(), other.user).get(f"/files/{settled.bank_slip_file_id}").status_code == 404
    note = db.session.scalar(sa.select(Notification).where(Notification.event == "commission_settled"))
    assert note.link == f"/cp/commissions/{tx.id}"


def test_a_double_submitted_form_settles_once_with_csrf_on(app, people):
    tx = won_transaction(people["cp"], people["admin"], "Double click", "due")
    db.session.commit()
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    client = login(csrf_app.test_client(), people["admin"])
    page = client.get(f"/admin/commissions/{tx.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)
    responses = []
    for _ in range(2):
        data = dict(settle_data(key=key), csrf_token=token)
        responses.append(
            client.post(f"/admin/commissions/{tx.id}/settle", data=data, content_type="multipart/form-data")
        )
    assert [r.status_code for r in responses] == [303, 303]
    assert state(tx.id).status == "paid" and state(tx.id).settlement_key == key
    assert count(AuditEvent, AuditEvent.action == "commission.settled") == 1
    assert count(StoredFile, StoredFile.kind == "bank_slip") == 1
    assert count(Notification, Notification.event == "commission_settled") == 1
    # Without the token the form is refused before anything happens.
    no_token = client.post(f"/admin/commissions/{tx.id}/settle", data=settle_data(), content_type="multipart/form-data")
    assert no_token.status_code == 400


def test_a_key_used_for_another_transaction_is_refused(app, people):
    first = won_transaction(people["cp"], people["admin"], "First", "due")
    second = won_transaction(people["cp"], people["admin"], "Second", "due")
    db.session.commit()
    admin = login(app.test_client(), people["admin"])
    assert post_settle(admin, first.id, key="a" * 32).status_code == 303
    response = post_settle(admin, second.id, key="a" * 32)
    assert response.status_code == 409 and state(second.id).status == "due"


@requires_postgres
def test_twenty_admins_settling_at_once_settle_exactly_once(people):
    tx_id = won_transaction(people["cp"], people["admin"], "Race", "due").id
    admins = [people["admin"]] + [factories.make_user("admin") for _ in range(19)]
    db.session.commit()
    race_app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 25, "max_overflow": 5, "pool_pre_ping": True})
    clients = [login(race_app.test_client(), admin) for admin in admins]
    barrier = threading.Barrier(len(clients))
    codes, errors = [], []

    def attempt(client):
        try:
            barrier.wait(timeout=30)
            codes.append(post_settle(client, tx_id).status_code)
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(repr(exc))

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with race_app.app_context():
        db.engine.dispose()
    assert not errors
    assert sorted(codes) == [303] + [409] * 19
    settled = state(tx_id)
    assert settled.status == "paid"
    assert count(AuditEvent, AuditEvent.action == "commission.settled") == 1
    assert count(StoredFile, StoredFile.kind == "bank_slip") == 1
    assert count(Notification, Notification.event == "commission_settled") == 1
    assert settled.gross_commission == settled.platform_fee + settled.net_commission


def test_request_settlement_queue_and_refusals(app, people):
    due = won_transaction(people["cp"], people["admin"], "Please pay", "due")
    pending = won_transaction(people["cp"], people["admin"], "Too early")
    db.session.commit()
    cp = login(app.test_client(), people["cp"].user)
    assert cp.post(f"/cp/commissions/{due.id}/request-settlement").status_code == 303
    assert cp.post(f"/cp/commissions/{due.id}/request-settlement").status_code == 303  # asking twice is harmless
    refused = cp.post(f"/cp/commissions/{pending.id}/request-settlement", headers={"HX-Request": "true"})
    assert refused.status_code == 409 and "once the client payment has been recorded" in refused.get_data(as_text=True)
    notes = db.session.scalars(sa.select(Notification).where(Notification.event == "settlement_requested")).all()
    assert len(notes) == 1 and notes[0].user_id == people["admin"].id
    assert notes[0].message == "Blue Harbor Partners requested settlement of $900.00 for lead 'Please pay'."
    assert [t.id for t in settlements.request_queue()] == [due.id]
    assert post_settle(login(app.test_client(), people["admin"]), due.id).status_code == 303
    assert settlements.request_queue() == []


@pytest.mark.parametrize("kyc", ["unverified", "rejected"])
def test_a_payout_waits_for_verified_bank_details(app, people, kyc):
    """SPEC 9.1: no settlement to a partner whose bank details an admin has not verified; the page says why."""
    people["cp"].kyc_status = kyc
    tx = won_transaction(people["cp"], people["admin"], "Unverified payout", "due")
    db.session.commit()
    admin = login(app.test_client(), people["admin"])
    page = admin.get(f"/admin/commissions/{tx.id}").get_data(as_text=True)
    assert 'id="settle-blocked"' in page and 'id="settle-form"' not in page
    refused = post_settle(admin, tx.id)
    assert refused.status_code == 409 and "not verified" in refused.get_data(as_text=True)
    assert state(tx.id).status == "due"
    people["cp"].kyc_status = "verified"
    db.session.commit()
    assert post_settle(admin, tx.id).status_code == 303 and state(tx.id).status == "paid"
