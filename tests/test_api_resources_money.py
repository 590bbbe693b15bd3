"""Money through the API (SPEC 2, issue 19 item 1): commissions read to the cent, the client payment, the settlement
to the partner with its bank slip (guards, idempotency, one settlement under a race), the partner's settlement
request, platform fees (partners see their own without the platform's side) and their batch settlement."""

import io
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AuditEvent,
    CommissionTransaction,
    Notification,
    PlatformFeeSettlement,
    PlatformFeeSettlementItem,
)
from app.models.base import utcnow
from app.money import fee_queries
from tests import factories
from tests.api_support import bearer, key_for, key_headers, token_for
from tests.conftest import make_app, requires_postgres
from tests.fee_support import won
from tests.storage_support import pdf_bytes
from tests.world_parts.w30_commissions import won_transaction


@pytest.fixture
def people():
    factories.make_fee_config("percentage", "10")
    people = {
        "admin": factories.make_user("admin"),
        "super": factories.make_user("super_admin"),
        "partner": factories.make_partner(company="Acme"),
        "other": factories.make_partner(company="Globex"),
    }
    db.session.commit()
    return people


def headers_of(user):
    return bearer(token_for(user))


def uploaded(client, headers, kind="bank_slip", data=None) -> str:
    """A bank slip (or client-payment proof) reserved, sent and ready to be named: its file_id."""
    ticket = client.post(
        "/api/v1/money/uploads", json={"kind": kind, "filename": "slip.pdf", "size": 64}, headers=headers
    )
    assert ticket.status_code == 201, ticket.json
    form = {"file": (io.BytesIO(data or pdf_bytes()), "slip.pdf")}
    sent = client.post(ticket.json["upload_url"], data=form, content_type="multipart/form-data")
    assert sent.status_code == 204
    return ticket.json["file_id"]


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def tx_state(tx_id) -> CommissionTransaction:
    db.session.expire_all()
    return db.session.get(CommissionTransaction, tx_id)


# --- reading, to the cent --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value", "commission", "fee", "net", "capped"),
    [
        (("percentage", "10"), "10000", "1000", "100.00", "900.00", False),
        (("fixed", "50"), "10000", "1000", "50.00", "950.00", False),
        (("fixed", "50"), "500", "30", "30.00", "0.00", True),
        (("percentage", "12.5"), "5000", "333.33", "41.67", "291.66", False),
    ],
)
def test_the_spec_examples_through_the_api(client, people, rule, value, commission, fee, net, capped):
    """Amounts set and the lead won through the API; the commission and the fee read back exactly (SPEC 2.3)."""
    factories.make_fee_config(*rule)
    lead = factories.make_lead(assignee=people["partner"], title="Worked example")
    db.session.commit()
    cp = headers_of(people["partner"].user)
    amounts = client.put(
        f"/api/v1/leads/{lead.id}/amounts",
        json={"lead_value": value, "commission_amount": commission, "version": lead.version},
        headers=cp,
    )
    assert amounts.status_code == 200, amounts.json
    moved = client.post(
        f"/api/v1/leads/{lead.id}/stage", json={"stage": "won", "version": amounts.json["version"]}, headers=cp
    )
    assert moved.status_code == 200, moved.json

    [row] = client.get("/api/v1/commissions", headers=cp).json["data"]
    assert (row["gross_commission"], row["platform_fee"], row["net_commission"]) == (
        f"{Decimal(commission):.2f}",
        fee,
        net,
    )
    assert Decimal(row["gross_commission"]) == Decimal(row["platform_fee"]) + Decimal(row["net_commission"])
    assert row["status"] == "pending" and row["fee_capped"] is capped and row["lead_title"] == "Worked example"
    assert row["fee_rule"] == {"type": rule[0], "value": f"{Decimal(rule[1]):.4f}", "source": "global"}
    assert client.get(f"/api/v1/commissions/{row['id']}", headers=cp).json == row
    fee_row = client.get(f"/api/v1/platform-fees/{row['id']}", headers=cp).json
    assert fee_row["platform_fee"] == fee and fee_row["gross_commission"] == row["gross_commission"]


def test_partners_read_their_own_money_and_staff_read_all(client, people):
    mine = won(people["partner"], people["admin"], paid=False, title="Mine")
    theirs = won(people["other"], people["admin"], paid=False, title="Theirs")
    db.session.commit()
    cp = headers_of(people["partner"].user)
    listed = client.get(f"/api/v1/commissions?partner_id={people['other'].id}", headers=cp).json["data"]
    assert [r["id"] for r in listed] == [str(mine.id)]  # a partner's filter cannot reach another partner
    assert client.get(f"/api/v1/commissions/{theirs.id}", headers=cp).status_code == 404
    assert client.get(f"/api/v1/platform-fees/{theirs.id}", headers=cp).status_code == 404
    fees = client.get(f"/api/v1/platform-fees?partner_id={people['other'].id}", headers=cp).json["data"]
    assert [f["transaction_id"] for f in fees] == [str(mine.id)]
    assert {fees[0][k] for k in ("state", "settled_at", "settlement_id", "ready", "waiting_reason", "overdue")} == {
        None
    }

    admin = headers_of(people["admin"])
    assert len(client.get("/api/v1/commissions", headers=admin).json["data"]) == 2
    only = client.get(f"/api/v1/commissions?partner_id={people['other'].id}", headers=admin).json["data"]
    assert [r["id"] for r in only] == [str(theirs.id)]
    staff_fee = client.get(f"/api/v1/platform-fees/{mine.id}", headers=admin).json
    assert staff_fee["state"] == "outstanding" and staff_fee["ready"] is False
    assert staff_fee["waiting_reason"] == "Waiting for the client payment" and staff_fee["overdue"] is False


def test_lists_page_with_cursors_and_filter(client, people):
    txs = [won(people["partner"], people["admin"], paid=False, title=f"Deal {n}") for n in range(5)]
    txs[0].status = "due"
    db.session.commit()
    admin = headers_of(people["admin"])
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/commissions", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=admin
        ).json
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(tx.id) for tx in txs) and len(seen) == 5
    due = client.get("/api/v1/commissions?status=due", headers=admin).json["data"]
    assert [r["id"] for r in due] == [str(txs[0].id)]
    bad = client.get("/api/v1/commissions?status=owed&limit=0&cursor=zzz", headers=admin)
    assert bad.status_code == 422 and {"status", "limit"} <= set(bad.json["errors"])
    assert client.get("/api/v1/commissions?cursor=bm90LWEtY3Vyc29y", headers=admin).status_code == 422


# --- the whole flow, and its guards ------------------------------------------------------------------------------


def test_client_payment_request_and_settlement_to_the_partner(client, people, mail_outbox):
    tx = won(people["partner"], people["admin"], paid=False, title="Big deal")
    db.session.commit()
    admin, cp = headers_of(people["admin"]), headers_of(people["partner"].user)

    early = client.post(f"/api/v1/commissions/{tx.id}/settlement-request", headers=cp)
    assert early.status_code == 409 and early.mimetype == "application/problem+json"
    future = (utcnow() + timedelta(days=5)).date().isoformat()
    refused = client.post(f"/api/v1/commissions/{tx.id}/client-payment", json={"paid_on": future}, headers=admin)
    assert refused.status_code == 422 and "paid_on" in refused.json["errors"] and tx_state(tx.id).status == "pending"
    proof = uploaded(client, admin, kind="client_payment")
    paid = client.post(
        f"/api/v1/commissions/{tx.id}/client-payment",
        json={"paid_on": utcnow().date().isoformat(), "reference": "INV-7", "attachment_file_id": proof},
        headers=admin,
    )
    assert paid.status_code == 200 and paid.json["status"] == "due" and paid.json["client_payment_reference"] == "INV-7"
    assert str(tx_state(tx.id).client_payment_file_id) == proof
    twice = client.post(f"/api/v1/commissions/{tx.id}/client-payment", json={"paid_on": "2026-01-01"}, headers=admin)
    assert twice.status_code == 409

    asked = client.post(f"/api/v1/commissions/{tx.id}/settlement-request", headers=cp)
    assert asked.status_code == 200 and asked.json["settlement_requested_at"] is not None
    queue = client.get("/api/v1/commissions?requested=true", headers=admin).json["data"]
    assert [r["id"] for r in queue] == [str(tx.id)]

    slip = uploaded(client, admin)
    body = {"confirmed_net": "900.00", "bank_slip_file_id": slip, "reference": "TRF-1"}
    key = uuid.uuid4().hex
    settled = client.post(
        f"/api/v1/commissions/{tx.id}/settlement", json=body, headers={**admin, "Idempotency-Key": key}
    )
    assert settled.status_code == 200, settled.json
    assert settled.json["status"] == "paid" and settled.json["bank_slip_file_id"] == slip
    assert settled.json["net_commission"] == "900.00" and settled.json["settlement_reference"] == "TRF-1"
    row = tx_state(tx.id)
    assert row.settled_by == people["admin"].id and row.settlement_key == key
    assert count(Notification, Notification.event == "commission_settled") == 1
    assert count(AuditEvent, AuditEvent.action == "commission.settled") == 1

    replay = client.post(
        f"/api/v1/commissions/{tx.id}/settlement", json=body, headers={**admin, "Idempotency-Key": key}
    )
    assert replay.status_code == 200 and replay.json == settled.json
    other_body = client.post(
        f"/api/v1/commissions/{tx.id}/settlement",
        json={**body, "reference": "X"},
        headers={**admin, "Idempotency-Key": key},
    )
    assert other_body.status_code == 422  # the same key with another body
    again = client.post(
        f"/api/v1/commissions/{tx.id}/settlement",
        json={**body, "bank_slip_file_id": uploaded(client, admin)},
        headers=admin,
    )
    assert again.status_code == 409 and "already been settled" in again.json["detail"]
    assert count(AuditEvent, AuditEvent.action == "commission.settled") == 1
    assert count(Notification, Notification.event == "commission_settled") == 1


def test_settlement_guards_write_nothing(client, people):
    tx = won_transaction(people["partner"], people["admin"], "Due deal", "due")
    pending = won_transaction(people["partner"], people["admin"], "Pending deal")
    db.session.commit()
    admin = headers_of(people["admin"])
    slip = uploaded(client, admin)

    def settle(tx_id, **body):
        return client.post(
            f"/api/v1/commissions/{tx_id}/settlement",
            json={"confirmed_net": "900.00", "bank_slip_file_id": slip, **body},
            headers=admin,
        )

    stale = settle(tx.id, confirmed_net="899.99")
    assert stale.status_code == 409 and "$900.00" in stale.json["detail"]
    assert settle(pending.id).status_code == 409
    for bad in ("9.999", "-1", "abc", "1e3", ""):
        answer = settle(tx.id, confirmed_net=bad)
        assert answer.status_code == 422 and "confirmed_net" in answer.json["errors"], bad
    assert settle(tx.id, bank_slip_file_id=str(uuid.uuid4())).json["errors"].keys() == {"bank_slip_file_id"}
    proof = uploaded(client, admin, kind="client_payment")
    assert settle(tx.id, bank_slip_file_id=proof).status_code == 422  # a client-payment proof is not a slip
    people["partner"].kyc_status = "unverified"
    db.session.commit()
    assert "not verified" in settle(tx.id).json["detail"]
    assert tx_state(tx.id).status == "due" and tx_state(pending.id).status == "pending"
    assert count(AuditEvent, AuditEvent.action == "commission.settled") == 0

    people["partner"].kyc_status = "verified"
    db.session.commit()
    assert settle(tx.id).status_code == 200  # the slip was never claimed by the refusals: it is still usable


def test_only_the_owner_asks_for_settlement(client, people):
    tx = won_transaction(people["partner"], people["admin"], "Due deal", "due")
    manager = factories.make_member(people["partner"], "manager")
    db.session.commit()
    assert (
        client.post(f"/api/v1/commissions/{tx.id}/settlement-request", headers=headers_of(manager)).status_code == 403
    )
    owner_key = key_headers(key_for(people["partner"].user, ["money:write"]))
    assert client.post(f"/api/v1/commissions/{tx.id}/settlement-request", headers=owner_key).status_code == 200
    assert tx_state(tx.id).settlement_requested_at is not None


@requires_postgres
def test_eight_admins_settling_one_commission_at_once_settle_it_once(app, people):
    """Each with its own slip and key: the row lock lets one through; the others see it paid (409)."""
    tx_id = won_transaction(people["partner"], people["admin"], "Raced", "due").id
    admins = [people["admin"], *(factories.make_user("admin") for _ in range(7))]
    db.session.commit()
    race_app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 2, "pool_pre_ping": True})
    prepared = []
    for admin in admins:
        headers = headers_of(admin)
        prepared.append((race_app.test_client(), headers, uploaded(race_app.test_client(), headers)))
    barrier = threading.Barrier(len(prepared))
    codes, errors = [], []

    def attempt(client, headers, slip):
        try:
            barrier.wait(timeout=30)
            answer = client.post(
                f"/api/v1/commissions/{tx_id}/settlement",
                json={"confirmed_net": "900.00", "bank_slip_file_id": slip},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            codes.append(answer.status_code)
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(repr(exc))

    threads = [threading.Thread(target=attempt, args=item) for item in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with race_app.app_context():
        db.engine.dispose()
    assert not errors
    assert sorted(codes) == [200] + [409] * 7, codes
    assert count(AuditEvent, AuditEvent.action == "commission.settled") == 1
    assert count(Notification, Notification.event == "commission_settled") == 1
    settled = tx_state(tx_id)
    assert settled.status == "paid" and settled.gross_commission == settled.platform_fee + settled.net_commission


# --- platform fees ---------------------------------------------------------------------------------------------


def test_batch_fee_settlement_to_the_super_admin(client, people):
    first = won(people["partner"], people["admin"], commission="333.33", value="5000", title="A")
    second = won(people["other"], people["admin"], commission="1000", title="B")
    waiting = won(people["partner"], people["admin"], paid=False, title="Not paid yet")
    db.session.commit()
    admin, super_admin = headers_of(people["admin"]), headers_of(people["super"])
    ready = client.get("/api/v1/platform-fees?state=outstanding", headers=admin).json["data"]
    assert {r["transaction_id"]: r["ready"] for r in ready} == {
        str(first.id): True,
        str(second.id): True,
        str(waiting.id): False,
    }

    slip = uploaded(client, admin)
    mixed = client.post(
        "/api/v1/platform-fees/settlements",
        json={"transaction_ids": [str(first.id), str(waiting.id)], "bank_slip_file_id": slip},
        headers=admin,
    )
    assert mixed.status_code == 409 and "cannot be settled yet" in mixed.json["detail"]
    assert count(PlatformFeeSettlement) == 0
    empty = client.post(
        "/api/v1/platform-fees/settlements", json={"transaction_ids": [], "bank_slip_file_id": slip}, headers=admin
    )
    assert empty.status_code == 422 and "transaction_ids" in empty.json["errors"]
    ghost = client.post(
        "/api/v1/platform-fees/settlements",
        json={"transaction_ids": [str(uuid.uuid4())], "bank_slip_file_id": slip},
        headers=admin,
    )
    assert ghost.status_code == 409

    key = uuid.uuid4().hex
    body = {"transaction_ids": [str(first.id), str(second.id)], "bank_slip_file_id": slip, "note": "March"}
    made = client.post("/api/v1/platform-fees/settlements", json=body, headers={**admin, "Idempotency-Key": key})
    assert made.status_code == 201, made.json
    assert made.json["amount"] == "133.33" and made.json["lead_count"] == 2  # 10 % of 333.33 is 33.33, + 100.00
    assert sorted((i["transaction_id"], i["amount"]) for i in made.json["items"]) == sorted(
        [(str(first.id), "33.33"), (str(second.id), "100.00")]
    )
    assert made.json["bank_slip_file_id"] == slip and made.json["notes"] == "March"
    assert (
        client.post("/api/v1/platform-fees/settlements", json=body, headers={**admin, "Idempotency-Key": key}).json
        == made.json
    )
    twice = client.post(
        "/api/v1/platform-fees/settlements",
        json={**body, "bank_slip_file_id": uploaded(client, admin)},
        headers=admin,
    )
    assert twice.status_code == 409 and "already been settled" in twice.json["detail"]
    assert count(PlatformFeeSettlement) == 1 and count(PlatformFeeSettlementItem) == 2
    assert (
        count(Notification, Notification.event == "platform_fee_settled", Notification.user_id == people["super"].id)
        == 1
    )

    seen = client.get(f"/api/v1/platform-fees/settlements/{made.json['id']}", headers=super_admin)
    assert seen.status_code == 200 and seen.json == made.json
    cp = headers_of(people["partner"].user)
    assert client.get(f"/api/v1/platform-fees/settlements/{made.json['id']}", headers=cp).status_code == 403
    fee = client.get(f"/api/v1/platform-fees/{first.id}", headers=admin).json
    assert fee["state"] == "settled" and fee["settlement_id"] == made.json["id"] and fee["ready"] is False
    assert client.get(f"/api/v1/platform-fees/{first.id}", headers=cp).json["settlement_id"] is None

    totals = client.get("/api/v1/platform-fees/totals", headers=super_admin).json
    assert totals["settled"] == "133.33" and totals["outstanding"] == "100.00" and totals["generated"] == "233.33"
    assert Decimal(totals["generated"]) == Decimal(totals["settled"]) + Decimal(totals["outstanding"])
    service = fee_queries.totals()
    assert (Decimal(totals["generated"]), Decimal(totals["settled"])) == (service.generated, service.settled)
    own = client.get(f"/api/v1/platform-fees/totals?partner_id={people['partner'].id}", headers=admin).json
    assert (own["settled"], own["outstanding"], own["generated_count"]) == ("33.33", "100.00", 2)


def test_a_void_commission_has_no_fee(client, people):
    tx = won(people["partner"], people["admin"], paid=False)
    tx.status = "void"
    db.session.commit()
    assert client.get(f"/api/v1/platform-fees/{tx.id}", headers=headers_of(people["admin"])).status_code == 404
    assert client.get("/api/v1/platform-fees", headers=headers_of(people["admin"])).json["data"] == []
