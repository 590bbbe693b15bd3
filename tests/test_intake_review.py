"""Intake review through the app (issue 18 items 1–4, 8): the review queue, approve / reject / mark bad, the
allocation gate, origination credits and their decisions, the score weights, and the category field editor."""

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.leads import intake, pipeline
from app.models import AuditEvent, CategoryField, IntakeSettings, Lead, Notification, OriginationCredit
from tests import factories
from tests.conftest import login as login_client
from tests.conftest import make_app, requires_postgres

HX = {"HX-Request": "true"}


def _lead(partner, **kw):
    kw.setdefault("intake_status", "pending_review")
    return factories.make_lead(originator=partner, contact_email=kw.pop("email", None), **kw)


def _prefix(lead):
    return f"rv{lead.id.hex[:12]}"


def _settings(approval="25.00", percent="10", weights=(30, 40, 30)):
    row = db.session.get(IntakeSettings, 1) or IntakeSettings(id=1)
    row.weight_required, row.weight_additional, row.weight_qualification = weights
    row.credit_on_approval, row.credit_percent_on_won = Decimal(approval), Decimal(percent)
    db.session.add(row)


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


@pytest.fixture
def world():
    partner = factories.make_partner(company="Origin Co")
    colleague = factories.make_member(partner, "manager")
    admin = factories.make_user("admin")
    category = factories.make_category("Solar")
    _settings()
    db.session.commit()
    return {"partner": partner, "colleague": colleague, "admin": admin, "category": category}


# --- the queue and its decisions ---------------------------------------------------------------


def test_queue_lists_pending_review_best_score_first_with_filters_and_duplicate_link(world, login_as):
    partner, category = world["partner"], world["category"]
    low = _lead(partner, title="Low score", quality_score=20, category_id=category.id)
    high = _lead(partner, title="High score", quality_score=90, channel="referral")
    earlier = factories.make_lead(title="The first one")
    dup = _lead(partner, title="Repeat", quality_score=50, duplicate_of_id=earlier.id)
    _lead(partner, title="Approved already", intake_status="approved")
    db.session.commit()
    client = login_as(world["admin"])
    page = client.get("/admin/review").get_data(as_text=True)
    assert page.index("High score") < page.index("Repeat") < page.index("Low score")
    assert "Approved already" not in page
    assert "possible duplicate" in page and f"/admin/leads/{earlier.id}" in page
    assert f'id="review-{dup.id}"' in page
    by_category = client.get(f"/admin/review?category={category.id}", headers=HX).get_data(as_text=True)
    assert "Low score" in by_category and "High score" not in by_category
    by_channel = client.get("/admin/review?channel=referral").get_data(as_text=True)
    assert "High score" in by_channel and "Low score" not in by_channel
    assert f'id="review-{high.id}"' in by_channel and low.title not in by_channel
    assert client.get("/admin/").get_data(as_text=True).count("data-review-count>3<") == 1


def test_approve_from_a_row_tells_the_originator_and_opens_the_approval_credit(world, login_as):
    lead = _lead(world["partner"], title="Good prospect")
    db.session.commit()
    response = login_as(world["admin"]).post(f"/admin/leads/{lead.id}/approve", data={"context": "row"}, headers=HX)
    assert response.status_code == 200
    assert f'id="review-{lead.id}"' in response.get_data(as_text=True) and 'data-intake="approved"' in response.text
    lead = _fresh(Lead, lead.id)
    assert lead.intake_status == "approved" and lead.reviewed_by == world["admin"].id
    told = db.session.scalars(sa.select(Notification.user_id).where(Notification.title == "Lead approved")).all()
    assert set(told) == {world["partner"].user_id, world["colleague"].id}
    credit = db.session.scalars(sa.select(OriginationCredit)).one()
    assert (credit.kind, credit.amount, credit.status) == ("approval", Decimal("25.00"), "pending_approval")


def test_reject_needs_a_reason_beside_the_field_then_tells_the_originator_by_email(world, login_as, mail_outbox):
    lead = _lead(world["partner"], title="Doubtful")
    db.session.commit()
    client, p = login_as(world["admin"]), _prefix(lead)
    refused = client.post(f"/admin/leads/{lead.id}/reject", data={"context": "row", f"{p}-reason": ""}, headers=HX)
    assert refused.status_code == 422 and "Choose a reason." in refused.text
    assert "invalid-feedback" in refused.text and _fresh(Lead, lead.id).intake_status == "pending_review"
    other = client.post(f"/admin/leads/{lead.id}/reject", data={"context": "panel", f"{p}-reason": "other"}, headers=HX)
    assert other.status_code == 422 and "Say why the lead is rejected." in other.text
    done = client.post(
        f"/admin/leads/{lead.id}/reject",
        data={"context": "row", f"{p}-reason": "incomplete", f"{p}-note": "Phone number is dead."},
        headers=HX,
    )
    assert done.status_code == 200 and 'data-intake="rejected"' in done.text
    lead = _fresh(Lead, lead.id)
    assert lead.intake_status == "rejected" and "Phone number is dead." in lead.rejection_reason
    recipients = {msg["To"] for msg in mail_outbox}
    assert {world["partner"].user.email, world["colleague"].email} <= recipients
    assert any("Phone number is dead." in msg.get_body(("plain",)).get_content() for msg in mail_outbox)
    originated = login_as(world["partner"].user).get("/cp/leads/originated?intake=rejected").text
    assert "Doubtful" in originated and "Phone number is dead." in originated
    assert "Doubtful" not in login_as(world["partner"].user).get("/cp/leads/originated?intake=approved").text


def test_a_distributed_lead_cannot_be_rejected_only_marked_bad(world, login_as):
    worker = factories.make_partner(company="Worker Co")
    lead = factories.make_lead(assignee=worker, originator=world["partner"], title="Out in the field")
    pending = _lead(world["partner"], title="Not out yet")
    db.session.commit()
    client, p = login_as(world["admin"]), _prefix(lead)
    refused = client.post(f"/admin/leads/{lead.id}/reject", data={f"{p}-reason": "incomplete"}, headers=HX)
    assert refused.status_code == 409 and "already distributed" in refused.text
    assert _fresh(Lead, lead.id).intake_status == "distributed"
    not_bad = client.post(f"/admin/leads/{pending.id}/mark-bad", data={f"{_prefix(pending)}-note": "Fake"}, headers=HX)
    assert not_bad.status_code == 409 and _fresh(Lead, pending.id).intake_status == "pending_review"
    empty = client.post(f"/admin/leads/{lead.id}/mark-bad", data={f"{p}-note": ""}, headers=HX)
    assert empty.status_code == 422 and "Say what is wrong with the lead." in empty.text
    bad = client.post(f"/admin/leads/{lead.id}/mark-bad", data={f"{p}-note": "Number belongs to a bakery."})
    assert bad.status_code == 303
    lead = _fresh(Lead, lead.id)
    assert lead.intake_status == "bad_lead" and lead.rejection_reason == "Number belongs to a bakery."
    assert "Number belongs to a bakery." in client.get(f"/admin/leads/{lead.id}").text


def test_allocation_is_refused_until_the_lead_is_approved(world, login_as):
    worker = factories.make_partner(company="Worker Co")
    lead = _lead(world["partner"], title="Awaiting review")
    db.session.commit()
    client = login_as(world["admin"])
    detail = client.get(f"/admin/leads/{lead.id}").text
    assert "data-not-allocatable" in detail and "Approve it first." in detail
    assert f"/admin/leads/{lead.id}/allocate" not in detail and f"/admin/leads/{lead.id}/approve" in detail
    data = {"allocate-partner": str(worker.id), "allocate-version": "", "allocate-override_type": ""}
    refused = client.post(f"/admin/leads/{lead.id}/allocate", data=data, headers=HX)
    assert refused.status_code == 422 and "Only approved leads can be allocated" in refused.text
    assert _fresh(Lead, lead.id).allocated_to is None
    approve = client.post(f"/admin/leads/{lead.id}/approve", data={"context": "panel"}, headers=HX)
    assert approve.status_code == 204 and approve.headers["HX-Redirect"].endswith(f"/admin/leads/{lead.id}")
    assert f"/admin/leads/{lead.id}/allocate" in client.get(f"/admin/leads/{lead.id}").text
    data["allocate-version"] = str(_fresh(Lead, lead.id).version)
    allocated = client.post(f"/admin/leads/{lead.id}/allocate", data=data, headers=HX)
    assert allocated.status_code == 200
    assert _fresh(Lead, lead.id).intake_status == "distributed"


def test_the_intake_panel_shows_score_breakdown_to_staff_and_only_to_the_originating_partner(world, login_as):
    category = world["category"]
    lead = intake.submit(
        {"first_name": "Ada", "last_name": "Byron", "contact_email": "ada@example.com", "budget": "under_5k"},
        category,
        channel="portal",
        actor=world["partner"].user,
        partner=world["partner"],
    )
    lead.utm = {"source": "newsletter"}
    worker = factories.make_partner(company="Worker Co")
    lead.intake_status, lead.allocated_to, lead.allocation_status = "distributed", worker.id, "allocated"
    db.session.commit()
    admin_page = login_as(world["admin"]).get(f"/admin/leads/{lead.id}").text
    assert 'id="intake-panel"' in admin_page and "Partner portal" in admin_page and "utm_source" in admin_page
    assert "missing Phone" in admin_page and f"{lead.quality_score}</strong>" in admin_page
    own = login_as(world["partner"].user).get(f"/cp/leads/{lead.id}").text
    assert 'id="intake-panel"' in own and "Mark as bad lead" not in own
    assert 'id="intake-panel"' not in login_as(worker.user).get(f"/cp/leads/{lead.id}").text


def _approve_in_thread(app, user_id, lead_id, results):
    from app.models import User

    with app.app_context():
        client = login_client(app.test_client(), db.session.get(User, user_id))
        results.append(client.post(f"/admin/leads/{lead_id}/approve", data={"context": "row"}, headers=HX).status_code)
        db.session.remove()


@requires_postgres
def test_two_reviewers_at_once_one_wins(world):
    lead = _lead(world["partner"], title="Contested")
    second = factories.make_user("admin")
    db.session.commit()
    app, results = make_app(), []
    threads = [
        threading.Thread(target=_approve_in_thread, args=(app, uid, lead.id, results))
        for uid in (world["admin"].id, second.id)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200, 409]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OriginationCredit)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "lead.approved")) == 1


# --- credits ---------------------------------------------------------------------------------


def test_credits_on_approval_and_on_won_follow_the_settings(app, world, login_as):
    worker = factories.make_partner(company="Worker Co")
    lead = _lead(world["partner"], title="Big deal")
    db.session.commit()
    client = login_as(world["admin"])
    saved = client.post(
        "/admin/intake",
        data={"weight_required": "30", "weight_additional": "40", "weight_qualification": "30",
              "credit_on_approval": "40.00", "credit_percent_on_won": "5"},
    )  # fmt: skip
    assert saved.status_code == 303
    client.post(f"/admin/leads/{lead.id}/approve", data={})
    lead = _fresh(Lead, lead.id)
    with app.test_request_context():  # the partner's notifications link to its pages
        pipeline.allocate(lead, worker, world["admin"])
        pipeline.set_amounts(lead, Decimal("2000"), Decimal("200"), world["admin"], None)
        pipeline.change_stage(lead, "won", world["admin"], None)
    db.session.commit()
    credits = {c.kind: c.amount for c in db.session.scalars(sa.select(OriginationCredit))}
    assert credits == {"approval": Decimal("40.00"), "won": Decimal("100.00")}
    page = login_as(world["partner"].user).get("/cp/credits").text
    assert "Big deal" in page and 'data-total="pending_approval"' in page and "140.00" in page


def test_a_duplicate_of_another_partners_lead_earns_no_credit(world, login_as):
    first_partner = factories.make_partner(company="First Co")
    first = factories.make_lead(originator=first_partner, title="Came first", contact_email="x@example.com")
    repeat = _lead(world["partner"], title="Came second", duplicate_of_id=first.id)
    own_repeat = _lead(first_partner, title="Own repeat", duplicate_of_id=first.id)
    db.session.commit()
    client = login_as(world["admin"])
    client.post(f"/admin/leads/{repeat.id}/approve", data={})
    client.post(f"/admin/leads/{own_repeat.id}/approve", data={})
    assert _fresh(Lead, repeat.id).intake_status == "approved"
    credited = db.session.scalars(sa.select(OriginationCredit.lead_id)).all()
    assert credited == [own_repeat.id]


def test_credit_decisions_from_the_admin_list(world, login_as):
    other = factories.make_partner(company="Other Co")
    mine = factories.make_lead(originator=world["partner"], title="Mine")
    theirs = factories.make_lead(originator=other, title="Theirs")
    one = OriginationCredit(lead_id=mine.id, partner_id=world["partner"].id, kind="approval", amount=Decimal("25"))
    two = OriginationCredit(lead_id=theirs.id, partner_id=other.id, kind="approval", amount=Decimal("30"))
    db.session.add_all([one, two])
    db.session.commit()
    client, p = login_as(world["admin"]), f"cr{one.id.hex[:12]}"
    listing = client.get("/admin/credits").text
    assert "Mine" in listing and "Theirs" in listing
    no_reason = client.post(f"/admin/credits/{one.id}/decide", data={f"{p}-decision": "reject"}, headers=HX)
    assert no_reason.status_code == 422 and "Say why the credit is rejected." in no_reason.text
    approved = client.post(f"/admin/credits/{one.id}/decide", data={f"{p}-decision": "approve"}, headers=HX)
    assert approved.status_code == 200 and 'data-credit-status="approved"' in approved.text
    again = client.post(f"/admin/credits/{one.id}/decide", data={f"{p}-decision": "reject", f"{p}-reason": "x"})
    assert again.status_code == 409 and "already approved" in again.text
    p2 = f"cr{two.id.hex[:12]}"
    rejected = client.post(
        f"/admin/credits/{two.id}/decide", data={f"{p2}-decision": "reject", f"{p2}-reason": "Not our market."}
    )
    assert rejected.status_code == 303
    assert _fresh(OriginationCredit, two.id).status == "rejected"
    told = db.session.scalars(sa.select(Notification).where(Notification.user_id == world["partner"].user_id)).all()
    assert any("approved" in n.title.lower() for n in told)
    cp_page = login_as(world["partner"].user).get("/cp/credits").text
    assert "Mine" in cp_page and "Theirs" not in cp_page and "Not our market." not in cp_page


# --- settings --------------------------------------------------------------------------------


def _weights(client, required, additional, qualification):
    data = {"weight_required": required, "weight_additional": additional, "weight_qualification": qualification,
            "credit_on_approval": "0", "credit_percent_on_won": "0"}  # fmt: skip
    return client.post("/admin/intake", data=data, headers=HX)


def test_weights_must_total_100_and_score_new_leads_only(world, login_as):
    data = {"first_name": "Ada", "last_name": "Byron", "contact_email": "ada@example.com"}
    old = intake.submit(data, None, channel="portal", actor=world["partner"].user, partner=world["partner"])
    db.session.commit()
    assert old.score_breakdown["required"]["max"] == 30 and old.quality_score < 30  # no phone
    client = login_as(world["admin"])
    assert "new leads only" in client.get("/admin/intake").text
    wrong = _weights(client, "50", "40", "30")
    assert wrong.status_code == 422 and wrong.text.count("must total 100 (now 120)") == 3
    not_number = _weights(client, "abc", "40", "30")
    assert not_number.status_code == 422 and "invalid-feedback" in not_number.text
    assert db.session.get(IntakeSettings, 1).weight_required == 30
    assert _weights(client, "100", "0", "0").status_code == 204
    row = _fresh(IntakeSettings, 1)
    assert (row.weight_required, row.weight_additional, row.weight_qualification) == (100, 0, 0)
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "intake_settings.changed")) == 1
    new = intake.submit({**data, "contact_email": "b@example.com"}, None, channel="portal", actor=world["partner"].user,
                        partner=world["partner"])  # fmt: skip
    db.session.commit()
    assert new.score_breakdown["required"]["max"] == 100 and new.quality_score > old.quality_score
    assert _fresh(Lead, old.id).score_breakdown["required"]["max"] == 30


# --- the field schema editor -------------------------------------------------------------------


def test_field_editor_then_a_partner_missing_a_required_custom_field_gets_422_beside_it(world, login_as):
    category = world["category"]
    old = factories.make_lead(originator=world["partner"], category_id=category.id, custom_fields={"legacy": "kept"})
    db.session.commit()
    client = login_as(world["admin"])
    base = f"/admin/categories/{category.id}/fields"
    assert client.post(base, data={"new-label": "", "new-field_type": "text"}, headers=HX).status_code == 422
    no_choices = client.post(base, data={"new-label": "Roof type", "new-field_type": "choice"}, headers=HX)
    assert no_choices.status_code == 422 and "List the choices, one per line." in no_choices.text
    added = client.post(
        base,
        data={"new-label": "Roof type", "new-field_type": "choice", "new-choices": "Flat\nPitched\n\nFlat",
              "new-required": "y"},
        headers=HX,
    )  # fmt: skip
    assert added.status_code == 200 and "roof_type" in added.text
    client.post(base, data={"new-label": "Roof type", "new-field_type": "number"}, headers=HX)
    fields = db.session.scalars(sa.select(CategoryField).order_by(CategoryField.sort_order)).all()
    assert [(f.key, f.choices, f.required) for f in fields] == [
        ("roof_type", ["Flat", "Pitched"], True), ("roof_type_2", [], False)
    ]  # fmt: skip
    moved = client.post(f"{base}/{fields[1].id}/move", data={"direction": "up"}, headers=HX)
    assert moved.text.index("roof_type_2") < moved.text.index("roof_type<")
    preview = client.get(f"{base}/preview?new-label=Panel+count&new-field_type=number", headers=HX)
    assert "Panel count" in preview.text and "Roof type (required)" in preview.text
    edited = client.post(f"{base}/{fields[1].id}", data={f"f{fields[1].id.hex[:12]}-label": "Roof size",
                                                           f"f{fields[1].id.hex[:12]}-field_type": "number"})  # fmt: skip
    assert edited.status_code == 303 and _fresh(CategoryField, fields[1].id).key == "roof_type_2"
    assert client.post(f"{base}/{fields[1].id}/delete", data={}).status_code == 303
    assert _fresh(Lead, old.id).custom_fields == {"legacy": "kept"}
    cp = login_as(world["partner"].user)
    form = cp.get(f"/cp/categories/{category.id}/lead").text
    assert "Roof type (required)" in form and "Roof size" not in form
    answer = cp.post(
        f"/cp/categories/{category.id}/lead",
        data={"first_name": "Ada", "last_name": "Byron", "contact_email": "ada@example.com"},
    )
    assert answer.status_code == 422
    body = answer.text
    assert 'id="cf_roof_type-error"' in body and "Roof type is required." in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 1
    ok = cp.post(
        f"/cp/categories/{category.id}/lead",
        data={"first_name": "Ada", "last_name": "Byron", "contact_email": "ada@example.com", "cf_roof_type": "Flat"},
    )
    assert ok.status_code == 302
    lead = db.session.scalars(sa.select(Lead).where(Lead.id != old.id)).one()
    assert lead.custom_fields == {"roof_type": "Flat"} and lead.intake_status == "pending_review"
