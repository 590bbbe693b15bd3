"""The audit log: every sensitive action leaves an event; nothing edits or deletes events; staff browse it."""

import io
import re
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.audit import queries as audit_queries
from app.audit import trail as audit
from app.extensions import db
from app.models import AuditEvent
from tests import factories
from tests.conftest import database_url, requires_postgres
from tests.report_summary import record

APP_DIR = Path(__file__).resolve().parent.parent / "app"


# --- every sensitive action leaves an event ------------------------------------------------------


def pdf_upload(name="slip.pdf") -> FileStorage:
    data = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    return FileStorage(io.BytesIO(data), filename=name, content_type="application/pdf")


def due_transaction(partner, admin):
    from app.money import commissions

    lead = factories.make_lead(assignee=partner, lead_value=Decimal("10000"), commission_amount=Decimal("1000"))
    lead.kanban_stage = "won"
    tx = commissions.open_for_won_lead(lead, admin)
    return commissions.record_client_payment(tx, admin, date.today(), "INV-1")


def _approve(w):
    from app.accounts import operations as accounts

    pending = factories.make_partner(status="pending")
    accounts.approve_cp(pending, w["admin"])
    return pending


def _reject(w):
    from app.accounts import operations as accounts

    pending = factories.make_partner(status="pending")
    accounts.reject_cp(pending, w["admin"], "Incomplete")
    return pending


def _suspend(w):
    from app.accounts import operations as accounts

    accounts.set_suspended(w["partner"], w["admin"], True)
    return w["partner"]


def _reactivate(w):
    from app.accounts import operations as accounts

    accounts.set_suspended(w["partner"], w["admin"], True)
    accounts.set_suspended(w["partner"], w["admin"], False)
    return w["partner"]


def _manual_add(w):
    from app.accounts import operations as accounts

    return accounts.manual_add_cp("New Person", "New Co", f"new{uuid.uuid4().hex[:6]}@example.test", w["admin"]).partner


def _password_change(w):
    from app.accounts import operations as accounts

    accounts.change_password(w["partner"].user, factories.PASSWORD, "another-long-passphrase")
    return w["partner"].user


def _bank_details(w):
    from app.partners import profiles

    profiles.update_bank_details(
        w["partner"],
        {"bank_name": "New Bank", "bank_account_number": "999888777", "bank_account_name": "Owner Co"},
        actor=w["partner"].user,
    )
    return w["partner"]


def _fee_rule(w):
    from app.money import fees

    return fees.set_global_rule("fixed", Decimal("50"), "new year", w["admin"])


def _commission_opened(w):
    from app.money import commissions

    lead = factories.make_lead(assignee=w["partner"], commission_amount=Decimal("500"))
    lead.kanban_stage = "won"
    return commissions.open_for_won_lead(lead, w["admin"])


def _commission_voided(w):
    from app.money import commissions

    tx = _commission_opened(w)
    tx.lead.kanban_stage = "lost"
    commissions.void_for_lead(tx.lead, w["admin"])
    return tx


def _client_payment(w):
    return due_transaction(w["partner"], w["admin"])


def _settled_to_cp(w):
    from app.money import settlements

    tx = due_transaction(w["partner"], w["admin"])
    return settlements.settle_to_cp(tx, w["admin"], pdf_upload(), "BANK-REF-1", uuid.uuid4().hex, tx.net_commission)


def _category_deleted(w):
    from app.catalog import operations as catalog

    category = catalog.create_category("Doomed category", "To be deleted.", actor=w["admin"])
    catalog.delete_category(category, actor=w["admin"])
    return category


def _allocation(w):
    from app.leads import pipeline

    lead = factories.make_lead()
    return pipeline.allocate(lead, w["partner"], w["admin"])


def _fee_override(w):
    from app.leads import pipeline

    lead = factories.make_lead(assignee=w["partner"], commission_amount=Decimal("800"))
    return pipeline.set_fee_override(lead, "fixed", Decimal("25"), w["admin"], lead.version)


def _lead_won(w):
    from app.leads import pipeline

    lead = factories.make_lead(assignee=w["partner"], commission_amount=Decimal("800"))
    return pipeline.change_stage(lead, "won", w["partner"].user, lead.version)


def _amounts(w):
    from app.leads import pipeline

    lead = factories.make_lead(assignee=w["partner"])
    return pipeline.set_amounts(lead, Decimal("5000"), Decimal("400"), w["partner"].user, lead.version)


def _lead_deleted(w):
    from types import SimpleNamespace

    from app.leads import deletion

    lead = factories.make_lead(assignee=w["partner"])
    lead_id = lead.id
    deletion.delete_lead(lead, factories.make_user("super_admin"))
    return SimpleNamespace(__tablename__="leads", id=lead_id)


def _fee_settlement(w):
    from app.money import fee_settlements
    from tests.fee_support import won

    tx = won(w["partner"], w["admin"])
    settlement, _created = fee_settlements.settle_fees(
        w["admin"], idempotency_key=uuid.uuid4().hex, slip=pdf_upload(), transaction_ids=[tx.id]
    )
    return settlement


def _bank_transfer(w, approve: bool):
    from app.money import commissions, payments

    lead = factories.make_lead(assignee=w["partner"], lead_value=Decimal("10000"), commission_amount=Decimal("1000"))
    lead.kanban_stage = "won"
    tx = commissions.open_for_won_lead(lead, w["admin"])
    commissions.flag_paid_directly(tx, w["admin"], date.today())
    payment = payments.submit_bank_transfer(tx, w["partner"].user, pdf_upload("receipt.pdf"))
    return payments.review_bank_transfer(payment, w["admin"], approve, None if approve else "Unreadable receipt")


def _content_review(w, approve: bool):
    from app.catalog import operations as catalog

    category = catalog.create_category(f"Cat {uuid.uuid4().hex[:6]}", "Things.", actor=w["admin"])
    content = catalog.save_content(w["partner"], category, "What we sell.", actor=w["partner"].user)
    catalog.submit_content(content, actor=w["partner"].user)
    return catalog.review_content(content, approve, "" if approve else "Too vague", actor=w["admin"])


# (what, the event's action, how to drive it), one per sensitive action of the product.
ACTIONS = [
    ("allocation", "lead.allocated", _allocation),
    ("fee override", "lead.fee_override", _fee_override),
    ("stage change to won", "lead.stage_changed", _lead_won),
    ("lead amounts (money)", "lead.amounts_changed", _amounts),
    ("lead deletion", "lead.deleted", _lead_deleted),
    ("platform fee settlement (money)", "platform_fee_settlement.created", _fee_settlement),
    ("bank transfer confirmed (money)", "payment.confirmed", lambda w: _bank_transfer(w, True)),
    ("bank transfer rejected (money)", "payment.rejected", lambda w: _bank_transfer(w, False)),
    ("content approval", "content.approved", lambda w: _content_review(w, True)),
    ("content rejection", "content.rejected", lambda w: _content_review(w, False)),
    ("approval", "cp.approved", _approve),
    ("rejection", "cp.rejected", _reject),
    ("suspension", "cp.suspended", _suspend),
    ("reactivation", "cp.reactivated", _reactivate),
    ("manual add", "cp.manually_added", _manual_add),
    ("password change", "user.password_changed", _password_change),
    ("bank-detail change", "partner.bank_details_changed", _bank_details),
    ("fee-rule change", "platform_fee_rule.changed", _fee_rule),
    ("commission opened (money)", "commission.opened", _commission_opened),
    ("commission voided (money)", "commission.voided", _commission_voided),
    ("client payment recorded (money)", "commission.client_payment_recorded", _client_payment),
    ("settlement to CP (money)", "commission.settled", _settled_to_cp),
    ("category deletion", "category.deleted", _category_deleted),
]


@pytest.mark.parametrize("what, action, drive", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_each_sensitive_action_leaves_an_audit_event(app, what, action, drive):
    partner, admin = factories.make_partner(), factories.make_user("admin")
    factories.make_fee_config()
    db.session.flush()
    with app.test_request_context():  # services build links for their notifications
        entity = drive({"partner": partner, "admin": admin})
    db.session.commit()
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()
    assert events, f"{what}: no {action} event"
    event = events[-1]
    assert event.entity_id == str(entity.id) and event.entity_type == entity.__tablename__
    assert event.actor_id is not None and event.created_at is not None
    record("audit", actions_checked=1)


# --- append-only ----------------------------------------------------------------------------------

WRITES_TO_EVENTS = [
    re.compile(r"(sa|sqlalchemy)\.(update|delete)\(\s*AuditEvent"),
    re.compile(r"(update|delete)\(\s*AuditEvent\b"),
    re.compile(r"AuditEvent\)[^\n]*\.(update|delete)\("),
    re.compile(r"(?i)(update|delete\s+from|truncate)\s+(table\s+)?audit_events"),
    re.compile(r"session\.delete\(\s*(event|audit_event|ev)\b"),
    re.compile(r"\.(before|after|action|actor_id|entity_id|created_at)\s*=(?!=)"),
]


def test_no_code_path_updates_or_deletes_audit_events():
    offenders = []
    for path in sorted(APP_DIR.rglob("*.py")):
        text = path.read_text()
        mentions_events = "AuditEvent" in text or "audit_events" in text
        for number, line in enumerate(text.splitlines(), 1):
            for pattern in WRITES_TO_EVENTS[:-1]:
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(APP_DIR.parent)}:{number}: {line.strip()}")
            # attribute writes only matter where an AuditEvent is loaded; record() builds a new one
            if (
                mentions_events
                and path.name not in {"audit.py"}
                and "event." in line
                and WRITES_TO_EVENTS[-1].search(line)
            ):
                offenders.append(f"{path.relative_to(APP_DIR.parent)}:{number}: {line.strip()}")
    assert not offenders, "audit events must be append-only:\n" + "\n".join(offenders)


def test_the_grep_finds_an_update_when_there_is_one():
    assert WRITES_TO_EVENTS[0].search("db.session.execute(sa.update(AuditEvent).values(action='x'))")
    assert WRITES_TO_EVENTS[2].search("db.session.query(AuditEvent).filter_by(id=1).delete()")
    assert WRITES_TO_EVENTS[3].search('conn.execute(text("DELETE FROM audit_events"))')


@requires_postgres
def test_postgres_refuses_update_and_delete_after_the_migrations():
    """Run the real migrations on a fresh PostgreSQL database, then try to change the log."""
    import os
    import subprocess
    import sys

    server = sa.make_url(database_url().replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{server.database}_audit_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    fresh = server.set(database=name).render_as_string(hide_password=False)
    try:
        env = {**os.environ, "DATABASE_URL": fresh, "FLASK_APP": "wsgi.py", "LEADFLOW_CONFIG": "development"}
        env.pop("TEST_DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=APP_DIR.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        engine = sa.create_engine(fresh)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO audit_events (action, entity_type, entity_id, created_at) VALUES ('a', 'x', '1', now())"
                )
            )
        for statement in ("UPDATE audit_events SET action = 'tampered'", "DELETE FROM audit_events"):
            with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
                conn.execute(sa.text(statement))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT action FROM audit_events")).scalars().all() == ["a"]
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- browsing and filtering -----------------------------------------------------------------------


def test_diff_is_field_by_field():
    changes = audit_queries.diff({"status": "due", "note": "x", "same": 1}, {"status": "paid", "same": 1, "by": None})
    assert [(c.field, c.before, c.after, c.kind) for c in changes] == [
        ("status", "due", "paid", "changed"),
        ("note", "x", "—", "removed"),
        ("same", "1", "1", "same"),
        ("by", "", "—", "added"),
    ]
    assert audit_queries.diff(None, None) == []


def _past_event(actor, action, entity, when, before=None, after=None):
    """An event as record() writes it, but dated in the past (inserted so, never updated)."""
    db.session.add(
        AuditEvent(
            actor_id=actor.id,
            action=action,
            entity_type=entity.__tablename__,
            entity_id=str(entity.id),
            before=before,
            after=after,
            created_at=when,
        )
    )
    db.session.flush()


def _events():
    admin = factories.make_user("admin", name="Alice Admin", email="alice@ops.test")
    other = factories.make_user("admin", name="Bob Boss", email="bob@ops.test")
    partner = factories.make_partner(company="Acme")
    audit.record(admin, "cp.approved", partner, {"status": "pending"}, {"status": "approved"})
    audit.record(
        other,
        "platform_fee_rule.changed",
        ("platform_fee_config", "cfg-1"),
        {"fee_value": "10.00"},
        {"fee_value": "12.50"},
    )
    _past_event(
        other, "cp.suspended", partner, datetime(2020, 1, 15, 12, 0), {"status": "approved"}, {"status": "suspended"}
    )
    db.session.commit()
    return admin, other, partner


@pytest.mark.parametrize("role, path", [("admin", "/admin/audit"), ("super_admin", "/super/audit")])
def test_staff_browse_the_log_with_a_readable_diff(login_as, role, path):
    _events()
    response = login_as(role).get(path)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "3 events" in body and "cp.approved" in body and "Alice Admin" in body
    assert "<del>10.00</del>" in body and "<ins>12.50</ins>" in body  # before/after of the fee rule


def _listed(client, **args):
    response = client.get("/admin/audit", query_string=args)
    return response.status_code, re.findall(r"<code>([a-z_.]+)</code>", response.get_data(as_text=True))


def test_filters_by_actor_action_entity_and_dates(login_as):
    _admin, _other, partner = _events()
    client = login_as("admin")
    assert _listed(client, actor="alice")[1] == ["cp.approved"]
    assert _listed(client, actor="BOB@ops")[1] == ["platform_fee_rule.changed", "cp.suspended"]
    assert _listed(client, action="cp.suspended")[1] == ["cp.suspended"]
    assert _listed(client, entity_type="channel_partners")[1] == ["cp.approved", "cp.suspended"]
    assert _listed(client, entity_type="channel_partners", entity_id=str(partner.id))[1] == [
        "cp.approved",
        "cp.suspended",
    ]
    assert _listed(client, entity_id="cfg-1")[1] == ["platform_fee_rule.changed"]
    assert _listed(client, date_from="2020-01-01", date_to="2020-01-31")[1] == ["cp.suspended"]
    assert _listed(client, date_from="2020-01-16")[1] == ["platform_fee_rule.changed", "cp.approved"]
    assert _listed(client, date_to="2020-01-15")[1] == ["cp.suspended"]  # the "to" day is included


@pytest.mark.parametrize(
    "args, message",
    [
        ({"date_from": "2024-02-30"}, "Not a valid date"),
        ({"date_from": "2024-03-01", "date_to": "2024-02-01"}, "must be on or after"),
        ({"action": "no.such.action"}, "Not a valid choice"),
        ({"entity_id": "x" * 65}, "64"),
    ],
)
def test_bad_filters_are_a_clear_422(login_as, args, message):
    _events()
    response = login_as("admin").get("/admin/audit", query_string=args)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body and "These filters cannot be used" in body and "<code>cp.approved</code>" not in body


def test_pages_of_fifty_newest_first_and_htmx_gets_only_the_results(login_as):
    admin = factories.make_user("admin")
    for n in range(60):
        audit.record(admin, "test.event", ("things", f"thing-{n:02d}"))
    db.session.commit()
    client = login_as("admin")
    first = client.get("/admin/audit").get_data(as_text=True)
    assert "60 events" in first and "Page 1 of 2" in first and "thing-59" in first and "thing-09" not in first
    second = client.get("/admin/audit?page=2", headers={"HX-Request": "true"})
    body = second.get_data(as_text=True)
    assert second.status_code == 200 and body.lstrip().startswith('<div id="audit-results">')
    assert "thing-09" in body and "thing-59" not in body and "<html" not in body


def test_an_event_links_to_the_history_of_its_record(login_as):
    _admin, _other, partner = _events()
    body = login_as("super_admin").get("/super/audit").get_data(as_text=True)
    assert f"/super/audit?entity_type=channel_partners&amp;entity_id={partner.id}" in body


def test_the_log_pages_offer_no_way_to_change_events(app, login_as):
    _events()
    body = login_as("admin").get("/admin/audit").get_data(as_text=True)
    assert 'method="post"' not in body.split('id="main"')[1].split("Log out")[0]
    audit_rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule]
    assert audit_rules and all(r.methods - {"GET", "HEAD", "OPTIONS"} == set() for r in audit_rules)


def test_date_filter_boundaries_use_whole_days():
    filters = audit_queries.AuditFilters(date_from=date(2024, 1, 1), date_to=date(2024, 1, 1))
    admin = factories.make_user("admin")
    _past_event(admin, "edge.late", admin, datetime(2024, 1, 1, 23, 59, 59))
    _past_event(admin, "edge.early", admin, datetime(2024, 1, 1) - timedelta(seconds=1))
    db.session.commit()
    assert [e.action for e in audit_queries.search(filters).items] == ["edge.late"]
