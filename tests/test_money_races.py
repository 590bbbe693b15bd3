"""Edits of a lead's money racing a settlement of the same lead (issue 15 item 8), on PostgreSQL.

Two admins, two test clients, released together by a barrier: one edits the lead (fee override,
re-allocation, amounts, deletion by the super admin), the other settles its commission to the CP or its
fee to the super admin. Before the fix 12 of 24 such races answered 500 (deadlocks: the edit locked the
lead and the rollup rows, then waited for the transaction row the settlement held, while the settlement
waited for the rollup rows). Now every answer is a success or a clear 409, exactly one side wins, and the
money agrees with itself and with the audit log afterwards.

MONEY_RACE_ROUNDS (default 12) sets the rounds per pair.
"""

import io
import os
import threading
import time
import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, CommissionTransaction, Lead, PlatformFeeSettlement, PlatformFeeSettlementItem
from app.money import commissions
from app.portals.lead_forms import prefix_for
from app.reporting import rollups
from tests import factories
from tests.conftest import login, make_app, requires_postgres
from tests.fee_support import PDF, pay_out
from tests.report_summary import record

ROUNDS = int(os.environ.get("MONEY_RACE_ROUNDS", "12"))
HX = {"HX-Request": "true"}
OK = {200, 302, 303}


@pytest.fixture(scope="module")
def race_app():
    """The test database, with 500s answered as a browser would get them (not raised into the test)."""
    app = make_app(PROPAGATE_EXCEPTIONS=False, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 6, "max_overflow": 2})
    yield app
    with app.app_context():
        db.engine.dispose()


def slip():
    return (io.BytesIO(PDF), "slip.pdf", "application/pdf")


# --- the two sides ----------------------------------------------------------------------------------


def edit_override(client, case):
    p = case["prefix"]
    data = {f"{p}-override_type": "fixed", f"{p}-override_value": "50", f"{p}-version": case["version"]}
    return client.post(f"/admin/leads/{case['lead_id']}/fee-override", data=data, headers=HX)


def edit_allocation(client, case):
    data = {"allocate-partner": case["other_id"], "allocate-version": case["version"], "allocate-override_type": ""}
    return client.post(f"/admin/leads/{case['lead_id']}/allocate", data=data, headers=HX)


def edit_amounts(client, case):
    p = case["prefix"]
    data = {f"{p}-lead_value": "20000", f"{p}-commission_amount": "2000", f"{p}-version": case["version"]}
    return client.post(f"/admin/leads/{case['lead_id']}/amounts", data=data, headers=HX)


def delete_lead(client, case):
    return client.post(f"/super/leads/{case['lead_id']}/delete", data={"confirm": "yes", "confirm_again": "yes"})


def settle_to_cp(client, case):
    data = {"bank_slip": slip(), "reference": "R", "confirmed_net": case["net"], "idempotency_key": uuid.uuid4().hex}
    return client.post(f"/admin/commissions/{case['tx_id']}/settle", data=data, content_type="multipart/form-data")


def settle_fee(client, case):
    # The admin confirmed the fee as it was before the race (the confirmation step's figures).
    data = {"transaction_ids": case["tx_id"], "idempotency_key": uuid.uuid4().hex, "bank_slip": slip()}
    data.update(confirm_count="1", confirm_total=str(case["fee"]))
    return client.post("/admin/platform-fees/settle", data=data, content_type="multipart/form-data")


EDITS = {"override": edit_override, "allocation": edit_allocation, "amounts": edit_amounts, "deletion": delete_lead}
SETTLEMENTS = {"commission": settle_to_cp, "fee": settle_fee}
PAIRS = [
    ("override", "commission"),
    ("allocation", "commission"),
    ("amounts", "commission"),
    ("deletion", "commission"),
    ("override", "fee"),
    ("allocation", "fee"),
    ("amounts", "fee"),
]


def prepare(people, settlement: str) -> dict:
    """A won lead whose commission is due (to race its settlement to the CP) or paid (to race its fee's)."""
    admin, partner = people["admin"], people["partner"]
    lead = factories.make_lead(assignee=partner, lead_value=Decimal("10000"), commission_amount=Decimal("1000"))
    lead.kanban_stage = "won"
    tx = commissions.open_for_won_lead(lead, admin)
    if settlement == "commission":
        commissions.record_client_payment(tx, admin, date.today(), "CLIENT")
    else:
        pay_out(tx, admin)
    db.session.commit()
    return {
        "lead_id": str(lead.id),
        "tx_id": str(tx.id),
        "version": str(lead.version),
        "net": str(tx.net_commission),
        "fee": tx.platform_fee,
        "prefix": prefix_for(lead),
        "other_id": str(people["other"].id),
    }


def race(clients, edit, settle, case, round_no: int) -> dict:
    """Both requests released together, one side held back a little: the edit on even rounds, the settlement
    on odd ones, by 0, 0, 2, 2, 4, 4 ... ms, so that both orders and the dead heat in between are tried."""
    barrier, answers = threading.Barrier(2), {}
    held_back, delay = ("edit" if round_no % 2 == 0 else "settle"), 0.002 * (round_no // 2)

    def run(side, action, client):
        barrier.wait()
        if side == held_back:
            time.sleep(delay)
        try:
            answers[side] = action(client, case).status_code
        except Exception as exc:  # noqa: BLE001  (a crash in the client counts as a server error)
            answers[side] = f"{type(exc).__name__}: {exc}"

    threads = [
        threading.Thread(target=run, args=("edit", edit, clients["edit"])),
        threading.Thread(target=run, args=("settle", settle, clients["settle"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def audit_count(action: str, entity_id: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(AuditEvent.action == action, AuditEvent.entity_id == entity_id)
    )


def check_money(edit_name: str, settlement: str, case: dict, answers: dict) -> list[str]:
    """What must hold after one race; returns the problems found (empty when consistent)."""
    db.session.expire_all()
    problems = []
    edited, settled = answers["edit"] in OK, answers["settle"] in OK
    gone = {404} if edit_name == "deletion" else set()  # settling a commission whose lead was deleted before
    if not (answers["edit"] in OK | {409} and answers["settle"] in OK | {409} | gone):
        problems.append(f"answers {answers}")
    if edited == settled:
        problems.append(f"exactly one side must win: {answers}")
    tx = db.session.get(CommissionTransaction, uuid.UUID(case["tx_id"]))
    lead = db.session.get(Lead, uuid.UUID(case["lead_id"]))
    if edit_name == "deletion" and edited:
        if tx is not None or lead is not None:
            problems.append("a deleted lead left rows behind")
        return problems
    if tx.gross_commission != tx.platform_fee + tx.net_commission:
        problems.append(f"gross {tx.gross_commission} != fee {tx.platform_fee} + net {tx.net_commission}")
    if tx.status != "void" and lead.platform_fee_amount != tx.platform_fee:
        problems.append(f"lead shows fee {lead.platform_fee_amount}, transaction {tx.platform_fee}")
    if settlement == "commission":
        if settled and (tx.status != "paid" or str(tx.net_commission) != case["net"]):
            problems.append(f"settled {case['net']} but the transaction is {tx.status} with net {tx.net_commission}")
        if audit_count("commission.settled", case["tx_id"]) != int(settled):
            problems.append("the settlement's audit row does not match what happened")
    else:
        items = db.session.scalars(
            sa.select(PlatformFeeSettlementItem).where(PlatformFeeSettlementItem.transaction_id == tx.id)
        ).all()
        if len(items) != int(settled):
            problems.append(f"{len(items)} settlement lines for a fee settled {int(settled)} time(s)")
        for item in items:
            settlement_row = db.session.get(PlatformFeeSettlement, item.settlement_id)
            if not (item.amount == tx.platform_fee == settlement_row.amount == case["fee"]):
                problems.append(f"settled {settlement_row.amount}, line {item.amount}, fee now {tx.platform_fee}")
    db.session.rollback()
    return problems


@requires_postgres
@pytest.mark.slow
@pytest.mark.parametrize(("edit_name", "settlement"), PAIRS, ids=[f"{e}-vs-{s}" for e, s in PAIRS])
def test_an_edit_racing_a_settlement_of_the_same_lead_never_answers_500(app, race_app, edit_name, settlement):
    people = {
        "admin": factories.make_user("admin"),
        "settler": factories.make_user("admin"),
        "owner": factories.make_user("super_admin"),
        "partner": factories.make_partner(),
        "other": factories.make_partner(),
    }
    factories.make_fee_config()
    db.session.commit()
    editor = people["owner"] if edit_name == "deletion" else people["admin"]
    with race_app.app_context():
        clients = {
            "edit": login(race_app.test_client(), editor),
            "settle": login(race_app.test_client(), people["settler"]),
        }
    outcomes, problems = {"edit won": 0, "settlement won": 0, "server errors": 0}, []
    for round_no in range(ROUNDS):
        with app.test_request_context():
            case = prepare(people, settlement)
        answers = race(clients, EDITS[edit_name], SETTLEMENTS[settlement], case, round_no)
        outcomes["server errors"] += sum(not isinstance(a, int) or a >= 500 for a in answers.values())
        outcomes["edit won" if answers["edit"] in OK else "settlement won"] += 1
        problems += [f"round {round_no}: {p}" for p in check_money(edit_name, settlement, case, answers)]
    db.session.expire_all()
    assert rollups.reconcile() == []
    record("money_races", tried=ROUNDS, server_errors=outcomes["server errors"], inconsistent=len(problems))
    print(f"{edit_name} vs {settlement} settlement, {ROUNDS} rounds: {outcomes}")
    assert outcomes["server errors"] == 0 and not problems, (outcomes, problems[:5])
