"""The database connection killed mid-request (PostgreSQL: pg_terminate_backend from a second connection).

For each state-changing request below, a first run counts the statements and commits it makes; then, for every
one of those points, the request is made again on fresh records with the app's connection killed there: before
each statement (the reads before the write, the write, the reads that build the answer), at the COMMIT, and just
after it. Each time, either the change is absent and the answer is 503 "try again" (with Retry-After), or the
change is present exactly once and the answer is a success. Never a 500, and never "try again" for a change
that was saved (a retry would make it twice).
"""

import io
import uuid
from dataclasses import dataclass, field

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditEvent, CommissionTransaction, LeadNote, StoredFile
from app.portals.lead_views import prefix_for
from tests import factories
from tests.conftest import database_url, login, requires_postgres
from tests.report_summary import record
from tests.storage_support import pdf_bytes
from tests.world_parts.w30_commissions import won_transaction

pytestmark = requires_postgres


@dataclass
class Killer:
    """Kills the backend of whichever app connection runs the chosen statement, commit or after-commit moment."""

    conn: psycopg.Connection
    armed: bool = False
    statements: int = 0
    commits: int = 0
    kill_before_statement: int | None = None
    kill_at_commit: int | None = None
    kill_after_commit: int | None = None
    killed: list = field(default_factory=list)
    last_pid: int | None = None

    def reset(self, **points) -> None:
        self.statements = self.commits = 0
        self.killed.clear()
        self.kill_before_statement = points.get("statement")
        self.kill_at_commit = points.get("commit")
        self.kill_after_commit = points.get("after_commit")

    def kill(self, pid: int | None, where: str) -> None:
        if pid is None:
            return
        self.conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):  # the backend exits asynchronously: wait until it is gone
            if self.conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is None:
                break
            self.conn.execute("SELECT pg_sleep(0.01)")
        self.killed.append(where)

    # -- the hooks ---------------------------------------------------------------------------------------------

    def before_statement(self, conn, cursor, statement, parameters, context, executemany):
        if not self.armed:
            return
        self.last_pid = _pid(conn)
        if self.statements == self.kill_before_statement:
            self.kill(self.last_pid, f"before statement {self.statements}: {statement.split(None, 1)[0]}")
        self.statements += 1

    def at_commit(self, conn):
        if not self.armed:
            return
        if self.commits == self.kill_at_commit:
            self.kill(_pid(conn), f"at commit {self.commits}")
        self.commits += 1

    def after_commit(self, session):
        if self.armed and self.kill_after_commit is not None and not session.in_nested_transaction():
            self.kill(self.last_pid, "right after the commit")
            self.kill_after_commit = None


def _pid(conn) -> int | None:
    try:
        return conn.connection.dbapi_connection.info.backend_pid
    except AttributeError:
        return None


@pytest.fixture
def killer(app):
    url = database_url().replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        k = Killer(conn)
        hooks = [
            (Engine, "before_cursor_execute", k.before_statement),
            (Engine, "commit", k.at_commit),
            (Session, "after_commit", k.after_commit),
        ]
        for target, name, hook in hooks:
            sa.event.listen(target, name, hook)
        try:
            yield k
        finally:
            for target, name, hook in hooks:
                sa.event.remove(target, name, hook)


# -- the requests: each sets up its own records and says how to count its change ------------------------------


def _count(model, *where) -> int:
    db.session.expire_all()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
    db.session.rollback()
    return count


def add_note(people):
    lead = factories.make_lead(assignee=people["cp"], title="Kill test lead")
    db.session.commit()
    body = f"note {uuid.uuid4().hex}"
    data = {f"{prefix_for(lead)}-body": body}
    return people["admin"], f"/admin/leads/{lead.id}/notes", data, lambda: _count(LeadNote, LeadNote.body == body)


def add_cp_note(people):
    lead = factories.make_lead(assignee=people["cp"], title="Kill test lead (CP)")
    db.session.commit()
    body = f"cp note {uuid.uuid4().hex}"
    data = {f"{prefix_for(lead)}-body": body}
    return people["cp"].user, f"/cp/leads/{lead.id}/notes", data, lambda: _count(LeadNote, LeadNote.body == body)


def record_client_payment(people):
    tx = won_transaction(people["cp"], people["admin"], "Kill test, awaiting client")
    db.session.commit()
    reference = f"INV-{uuid.uuid4().hex[:10]}"

    def changes():
        return _count(
            CommissionTransaction,
            CommissionTransaction.id == tx.id,
            CommissionTransaction.client_payment_reference == reference,
            CommissionTransaction.status == "due",
        ) + _count(
            AuditEvent, AuditEvent.entity_id == str(tx.id), AuditEvent.action == "commission.client_payment_recorded"
        )

    return (
        people["admin"],
        f"/admin/commissions/{tx.id}/client-payment",
        {"paid_on": "2026-01-15", "reference": reference},
        changes,
    )


def settle(people):
    tx = won_transaction(people["cp"], people["admin"], "Kill test, due", "due")
    db.session.commit()

    def changes():
        return (
            _count(CommissionTransaction, CommissionTransaction.id == tx.id, CommissionTransaction.status == "paid")
            + _count(AuditEvent, AuditEvent.entity_id == str(tx.id), AuditEvent.action == "commission.settled")
            + _count(StoredFile, StoredFile.kind == "bank_slip", StoredFile.cp_id == people["cp"].id)
        )

    data = {
        "bank_slip": (io.BytesIO(pdf_bytes()), "slip.pdf"),
        "reference": "TRF-KILL",
        "confirmed_net": "900.00",
        "idempotency_key": uuid.uuid4().hex,
    }
    return people["admin"], f"/admin/commissions/{tx.id}/settle", data, changes


ACTIONS = {
    "lead note (admin)": add_note,
    "lead note (CP)": add_cp_note,
    "client payment": record_client_payment,
    "settle": settle,
}


@pytest.fixture
def people(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Killed Connections Ltd")
    factories.make_fee_config("percentage", "10")
    db.session.commit()
    return {"admin": admin, "cp": partner}


def _post(app, killer, people, action, htmx: bool, **points):
    user, url, data, changes = action(people)
    client = login(app.test_client(), user)
    headers = {"HX-Request": "true"} if htmx else {}
    before = changes()
    killer.reset(**points)
    killer.armed = True
    try:
        response = client.post(url, data=data, headers=headers, content_type="multipart/form-data")
    finally:
        killer.armed = False
    return response, changes() - before


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_a_killed_connection_never_gives_a_500_nor_loses_or_doubles_a_change(app, killer, people, name, htmx):
    action = ACTIONS[name]
    clean, change = _post(app, killer, people, action, htmx)
    assert clean.status_code < 400 and change > 0, (
        f"{name}: the request itself fails ({clean.status_code}) {clean.get_data(as_text=True)[-600:]}"
    )
    points = [{"statement": i} for i in range(killer.statements)]
    points += [{"commit": i} for i in range(killer.commits)] + [{"after_commit": True}]
    tried, false_500, wrong = 0, 0, []
    for point in points:
        response, delta = _post(app, killer, people, action, htmx, **point)
        if not killer.killed:
            continue  # the request took another path this time (no such statement): nothing was tried
        tried += 1
        status = response.status_code
        where = f"{name} killed {killer.killed[0]}: {status}, change {delta}/{change}"
        if status >= 500 and status != 503:
            false_500 += 1
            wrong.append(where)
        elif status == 503:
            if delta != 0:
                wrong.append(f"{where}: 'try again' for a change that was saved")
            if not response.headers.get("Retry-After"):
                wrong.append(f"{where}: 503 without Retry-After")
        elif status >= 400 or delta != change:
            wrong.append(f"{where}: a success answer must mean the change is there exactly once")
    record("connection_kill", tried=tried, false_500=false_500, wrong_outcome=len(wrong) - false_500)
    assert tried >= len(points) - 1, f"{name}: only {tried} of {len(points)} kill points were reached"
    assert not wrong, "\n".join(wrong)


def test_a_page_answers_503_try_again_while_the_database_is_unreachable(app, people, killer):
    """A GET whose connection dies before its first query: 503 with Retry-After and a sentence, not a 500."""
    client = login(app.test_client(), people["admin"])
    killer.reset(statement=0)
    killer.armed = True
    try:
        response = client.get("/admin/leads")
    finally:
        killer.armed = False
    assert killer.killed
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "try again" in response.get_data(as_text=True)
