"""Money under pressure, on PostgreSQL: 50 admins released together settle the same commission, 100 times
over (exactly one wins each time); and a crash between the steps of a settlement leaves all or nothing.

MONEY_STRESS_ROUNDS (default 100) and MONEY_STRESS_THREADS (default 50) size the stress run.
"""

import io
import os
import subprocess
import sys
import threading
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import AuditEvent, CommissionTransaction, Notification, StoredFile, User
from app.money import commissions
from tests import factories
from tests.conftest import database_url, make_app, requires_postgres
from tests.report_summary import record

ROUNDS = int(os.environ.get("MONEY_STRESS_ROUNDS", "100"))
THREADS = int(os.environ.get("MONEY_STRESS_THREADS", "50"))
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ROOT = Path(__file__).resolve().parent.parent


def slip() -> FileStorage:
    return FileStorage(io.BytesIO(PDF), filename="slip.pdf", content_type="application/pdf")


def due_transaction(partner, admin, commission="1000.00") -> CommissionTransaction:
    lead = factories.make_lead(assignee=partner, lead_value=Decimal("10000"), commission_amount=Decimal(commission))
    lead.kanban_stage = "won"
    tx = commissions.open_for_won_lead(lead, admin)
    return commissions.record_client_payment(tx, admin, date.today(), "CLIENT-1")


def settlement_facts(tx_id) -> dict:
    """Everything one settlement writes, read fresh from the database."""
    db.session.expire_all()
    tx = db.session.get(CommissionTransaction, tx_id)
    events = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "commission.settled", AuditEvent.entity_id == str(tx_id))
    )
    notices = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.event == "commission_settled", Notification.reference_id == tx_id)
    )
    slip_rows = db.session.scalar(
        sa.select(sa.func.count()).select_from(StoredFile).where(StoredFile.id == tx.bank_slip_file_id)
    )
    facts = {
        "status": tx.status,
        "settled_by": tx.settled_by,
        "settled_at": tx.settled_at,
        "bank_slip": tx.bank_slip_file_id,
        "slip_rows": slip_rows,
        "audit_events": events,
        "notifications": notices,
    }
    db.session.rollback()
    return facts


def assert_all_or_nothing(facts: dict) -> str:
    if facts["status"] == "paid":
        assert facts["settled_by"] and facts["settled_at"] and facts["bank_slip"], facts
        assert facts["slip_rows"] == 1 and facts["audit_events"] == 1 and facts["notifications"] == 1, facts
        return "all"
    assert facts["status"] == "due", facts
    assert not (facts["settled_by"] or facts["settled_at"] or facts["bank_slip"]), facts
    assert facts["audit_events"] == 0 and facts["notifications"] == 0, facts
    return "nothing"


@pytest.fixture(scope="module")
def stress_app():
    """The same database, with a pool large enough that every thread holds its own connection."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS, "max_overflow": 4, "pool_timeout": 60})
    yield app
    with app.app_context():
        db.engine.dispose()


def _race(stress_app, tx_id, admin_ids, same_key: bool) -> list[str]:
    from app.money.settlements import SettlementRefused, settle_to_cp

    barrier = threading.Barrier(len(admin_ids))
    results: list[str] = [""] * len(admin_ids)
    shared_key = uuid.uuid4().hex

    def settle(index: int, admin_id):
        with stress_app.app_context(), stress_app.test_request_context():
            tx = db.session.get(CommissionTransaction, tx_id)
            admin = db.session.get(User, admin_id)
            net = tx.net_commission
            db.session.rollback()  # start the race from nothing held
            key = shared_key if same_key else uuid.uuid4().hex
            barrier.wait()
            try:
                settle_to_cp(tx, admin, slip(), f"REF-{index}", key, net)
                db.session.commit()
                results[index] = "settled"
            except SettlementRefused:
                db.session.rollback()
                results[index] = "refused"
            except Exception as exc:  # counted and shown: anything else is a failure of the test
                db.session.rollback()
                results[index] = f"error {type(exc).__name__}: {exc}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=settle, args=(i, a)) for i, a in enumerate(admin_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@requires_postgres
@pytest.mark.slow
def test_fifty_admins_settling_the_same_commission_at_once_settle_it_once(app, stress_app):
    partner = factories.make_partner()
    admins = [factories.make_user("admin") for _ in range(THREADS)]
    factories.make_fee_config()
    db.session.commit()
    admin_ids = [a.id for a in admins]
    settled = refused = errors = 0
    bad_rounds = []
    for round_no in range(ROUNDS):
        with app.test_request_context():
            tx = due_transaction(partner, admins[0])
            db.session.commit()
            tx_id = tx.id
        results = _race(stress_app, tx_id, admin_ids, same_key=False)
        wins = results.count("settled")
        settled += wins
        refused += results.count("refused")
        errors += sum(r.startswith("error") for r in results)
        facts = settlement_facts(tx_id)
        if wins != 1 or results.count("refused") != THREADS - 1 or assert_all_or_nothing(facts) != "all":
            bad_rounds.append((round_no, wins, sorted(set(results))[:3]))
    attempts = ROUNDS * THREADS
    record(
        "money_stress",
        rounds=ROUNDS,
        threads_per_round=THREADS,
        concurrent_settlements=attempts,
        succeeded=settled,
        refused=refused,
        errors=errors,
    )
    print(f"double-settlement stress: {ROUNDS} rounds x {THREADS} threads = {attempts} attempts: "
          f"{settled} settled, {refused} refused, {errors} errors")  # fmt: skip
    assert not bad_rounds, bad_rounds[:5]
    assert settled == ROUNDS and refused == ROUNDS * (THREADS - 1) and errors == 0


@requires_postgres
def test_a_double_click_of_the_same_form_settles_once(app, stress_app):
    """The same idempotency key from 50 threads: every click gets the one settlement, written once."""
    partner, admin = factories.make_partner(), factories.make_user("admin")
    factories.make_fee_config()
    db.session.commit()
    rounds = max(1, ROUNDS // 10)
    for _ in range(rounds):
        with app.test_request_context():
            tx = due_transaction(partner, admin)
            db.session.commit()
            tx_id = tx.id
        results = _race(stress_app, tx_id, [admin.id] * THREADS, same_key=True)
        assert not [r for r in results if r.startswith("error")], results
        assert results.count("settled") + results.count("refused") == THREADS
        assert assert_all_or_nothing(settlement_facts(tx_id)) == "all"
    record("money_stress", same_form_double_clicks=rounds * THREADS)


# --- crash injection ------------------------------------------------------------------------------


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("step", ["audit.record", "notifications.notify", "storage.save_upload"])
def test_a_crash_between_the_steps_of_a_settlement_leaves_nothing(app, monkeypatch, step):
    """The view's transaction fails at `step`: status, settled_by, slip, audit row and notification are all absent."""
    from app.money import settlements

    partner, admin = factories.make_partner(), factories.make_user("admin")
    factories.make_fee_config()
    with app.test_request_context():
        tx = due_transaction(partner, admin)
    db.session.commit()
    tx_id, net = tx.id, tx.net_commission
    module_name, function = step.split(".")
    target = getattr(settlements, module_name)
    real = getattr(target, function)

    def crash(*args, **kwargs):
        if function == "save_upload":
            real(*args, **kwargs)  # the slip's bytes are written, then the process "dies"
        raise Crash(f"injected at {step}")

    monkeypatch.setattr(target, function, crash)
    files_before = set(_uploads())
    client = make_app(PROPAGATE_EXCEPTIONS=False).test_client()
    from tests.conftest import login

    login(client, admin)
    response = client.post(
        f"/admin/commissions/{tx_id}/settle",
        data={"bank_slip": (io.BytesIO(PDF), "slip.pdf", "application/pdf"), "reference": "R-1",
              "confirmed_net": str(net), "idempotency_key": uuid.uuid4().hex},
    )  # fmt: skip
    assert response.status_code == 500
    assert assert_all_or_nothing(settlement_facts(tx_id)) == "nothing"
    assert set(_uploads()) == files_before, "the rolled-back slip's bytes were left on disk"
    record("crash_injection", injected_crashes=1, left_half_written=0)


def _uploads() -> list[str]:
    from flask import current_app

    root = Path(current_app.config["STORAGE_LOCAL_DIR"])
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


KILL_SCRIPT = """
import io, os, signal, sys, uuid
from werkzeug.datastructures import FileStorage
from tests.conftest import make_app
from app.extensions import db
from app.models import CommissionTransaction, User
from app.money.settlements import settle_to_cp

app = make_app()
with app.app_context(), app.test_request_context():
    tx = db.session.get(CommissionTransaction, uuid.UUID(sys.argv[1]))
    admin = db.session.get(User, uuid.UUID(sys.argv[2]))
    slip = FileStorage(io.BytesIO(b"%PDF-1.4\\n1 0 obj<<>>endobj\\ntrailer<<>>\\n%%EOF\\n"), filename="s.pdf")
    settle_to_cp(tx, admin, slip, "KILLED", uuid.uuid4().hex, tx.net_commission)
    db.session.flush()
    if sys.argv[3] == "after-commit":
        db.session.commit()
    print("settled in the transaction; now dying", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@requires_postgres
@pytest.mark.parametrize("moment, outcome", [("before-commit", "nothing"), ("after-commit", "all")])
def test_a_process_killed_mid_settlement_leaves_all_or_nothing(app, moment, outcome):
    partner, admin = factories.make_partner(), factories.make_user("admin")
    factories.make_fee_config()
    with app.test_request_context():
        tx = due_transaction(partner, admin)
    db.session.commit()
    env = {**os.environ, "TEST_DATABASE_URL": database_url()}
    done = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(tx.id), str(admin.id), moment],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr  # SIGKILL: no cleanup code ran
    assert "now dying" in done.stdout
    assert assert_all_or_nothing(settlement_facts(tx.id)) == outcome
    record("crash_injection", killed_processes=1)
