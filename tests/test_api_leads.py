"""POST/GET /api/v1/leads (issue 19 items 1 and 4): the whole intake through the API, idempotent by header (20
concurrent identical POSTs make one lead), cursor pages, and the pipeline's own operations with its rules."""

import threading
import uuid
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models import CategoryField, CommissionTransaction, EmailOutbox, Lead
from tests import factories
from tests.api_support import bearer, key_for, key_headers, token_for
from tests.conftest import is_postgres, requires_postgres

BODY = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "contact_email": "ada@example.org",
    "contact_phone": "+1 415 555 0100",
    "contact_company": "Engines Ltd",
    "budget": "25k_100k",
}


def post_lead(client, headers, body=None, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/leads", json=body if body is not None else BODY, headers={**headers, **extra})


def test_each_caller_enters_leads_as_its_channel_allows(client, mail_outbox):
    partner = factories.make_partner()
    admin = factories.make_user("admin")
    supplier = factories.make_partner(company="Supplier Co")
    db.session.commit()
    trusted = key_for(supplier.user, ["leads:write", "leads:trusted"], partner=supplier, actor=admin)
    plain = key_for(partner.user, ["leads:write"])

    by_token = post_lead(client, bearer(token_for(partner.user)))
    assert by_token.status_code == 201, by_token.json
    assert by_token.json["intake_status"] == "pending_review" and by_token.json["channel"] == "api"
    assert by_token.json["originated_by"] == str(partner.id) and by_token.json["quality_score"] > 0

    by_staff = post_lead(client, bearer(token_for(admin)), {**BODY, "contact_email": "b@example.org"})
    assert by_staff.json["intake_status"] == "approved" and by_staff.json["originated_by"] is None

    by_trusted = post_lead(client, key_headers(trusted), {**BODY, "contact_email": "c@example.org"})
    assert by_trusted.json["intake_status"] == "approved" and by_trusted.json["originated_by"] == str(supplier.id)

    by_plain = post_lead(client, key_headers(plain), {**BODY, "contact_email": "d@example.org"})
    assert by_plain.json["intake_status"] == "pending_confirmation"
    confirm = db.session.scalars(sa.select(EmailOutbox).where(EmailOutbox.template == "confirm_lead")).one()
    assert confirm.to_email == "d@example.org"
    no_email = post_lead(client, key_headers(plain), {k: v for k, v in BODY.items() if k != "contact_email"})
    assert no_email.status_code == 422 and "contact_email" in no_email.json["errors"]


def test_field_errors_are_422_beside_each_field_and_nothing_is_written(client):
    partner = factories.make_partner()
    category = factories.make_category("Solar")
    db.session.add(
        CategoryField(category_id=category.id, key="roof_m2", label="Roof area", field_type="number", required=True)
    )
    db.session.commit()
    headers = bearer(token_for(partner.user))
    bad = post_lead(
        client,
        headers,
        {"category_id": str(category.id), "first_name": "", "contact_email": "not-an-email", "budget": "lots"},
    )
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert {"first_name", "contact_email", "budget", "custom_fields.roof_m2"} <= set(bad.json["errors"])
    typed = post_lead(client, headers, {"first_name": 5, "custom_fields": []})
    assert typed.status_code == 422 and {"first_name", "custom_fields"} <= set(typed.json["errors"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0

    good = post_lead(client, headers, {**BODY, "category_id": str(category.id), "custom_fields": {"roof_m2": 42}})
    assert good.status_code == 201 and good.json["custom_fields"] == {"roof_m2": "42"}
    unknown = post_lead(client, headers, {**BODY, "category_id": str(uuid.uuid4())})
    assert unknown.status_code == 404


def test_the_monthly_quota_is_a_409(client):
    partner = factories.make_partner(monthly_lead_quota=1)
    db.session.commit()
    headers = bearer(token_for(partner.user))
    assert post_lead(client, headers).status_code == 201
    refused = post_lead(client, headers, {**BODY, "contact_email": "x@example.org"})
    assert refused.status_code == 409 and "quota" in refused.json["detail"]


def test_idempotency_key_replays_the_first_answer_and_refuses_other_contents(client):
    partner = factories.make_partner()
    db.session.commit()
    headers = key_headers(key_for(partner.user, ["leads:write"]))
    headers = bearer(token_for(partner.user))
    first = post_lead(client, headers, key="order-1234567890abcdef")
    again = post_lead(client, headers, key="order-1234567890abcdef")
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    changed = post_lead(client, headers, {**BODY, "first_name": "Grace"}, key="order-1234567890abcdef")
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json["errors"]
    malformed = post_lead(client, headers, key="short")
    assert malformed.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 1


@requires_postgres
def test_twenty_concurrent_identical_posts_make_one_lead(app):
    assert is_postgres()
    partner = factories.make_partner()
    db.session.commit()
    headers = key_headers(key_for(partner.user, ["leads:write"]))
    key = uuid.uuid4().hex
    db.session.remove()
    start, answers, errors = threading.Barrier(20), [None] * 20, []

    def send(i):
        try:
            start.wait()
            answers[i] = post_lead(app.test_client(), headers, key=key)
        except Exception as exc:  # a view's exception propagates in the test app: that is a 500
            errors.append(repr(exc))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json["id"] for answer in answers}) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 1


def test_lists_page_by_cursor_and_show_a_partner_only_its_leads(client):
    partner, other = factories.make_partner(), factories.make_partner()
    admin = factories.make_user("admin")
    mine = [factories.make_lead(assignee=partner) for _ in range(5)]
    originated = factories.make_lead(originator=partner)
    factories.make_lead(assignee=other)
    db.session.commit()

    headers = key_headers(key_for(partner.user, ["leads:read"]))
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/leads", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=headers).json  # fmt: skip
        seen += [row["id"] for row in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(lead.id) for lead in [*mine, originated])
    assert len(seen) == len(set(seen))

    staff = client.get("/api/v1/leads", query_string={"partner_id": str(other.id)}, headers=bearer(token_for(admin)))
    assert len(staff.json["data"]) == 1
    new_only = client.get("/api/v1/leads", query_string={"stage": "won"}, headers=headers)
    assert new_only.json["data"] == []
    assert client.get("/api/v1/leads", query_string={"cursor": "garbage!"}, headers=headers).status_code == 422
    assert client.get("/api/v1/leads", query_string={"limit": 1000}, headers=headers).status_code == 422


def test_working_a_lead_uses_the_pipeline_rules(client):
    factories.make_fee_config(value="10")
    partner = factories.make_partner()
    admin = factories.make_user("admin")
    lead = factories.make_lead(assignee=partner)
    pending = factories.make_lead()
    db.session.commit()
    headers = bearer(token_for(partner.user))
    path = f"/api/v1/leads/{lead.id}"

    amounts = client.put(f"{path}/amounts", json={"lead_value": "1000.00", "commission_amount": "100.005",
                                                  "version": lead.version}, headers=headers)  # fmt: skip
    assert amounts.status_code == 422  # more than two decimals is refused, not rounded
    amounts = client.put(f"{path}/amounts", json={"lead_value": "1000.00", "commission_amount": "100.00",
                                                  "version": lead.version}, headers=headers)  # fmt: skip
    assert amounts.status_code == 200
    assert (amounts.json["platform_fee_amount"], amounts.json["net_commission"]) == ("10.00", "90.00")
    stale = client.post(f"{path}/stage", json={"stage": "won", "version": lead.version}, headers=headers)
    assert stale.status_code == 409
    lost = client.post(f"{path}/stage", json={"stage": "lost", "version": amounts.json["version"]}, headers=headers)
    assert lost.status_code == 422 and "lost_reason" in lost.json["errors"]
    won = client.post(f"{path}/stage", json={"stage": "won", "version": amounts.json["version"]}, headers=headers)
    assert won.status_code == 200 and won.json["stage"] == "won"
    db.session.expire_all()
    tx = db.session.scalars(sa.select(CommissionTransaction).where(CommissionTransaction.lead_id == lead.id)).one()
    assert (tx.gross_commission, tx.platform_fee, tx.net_commission) == (
        Decimal("100.00"),
        Decimal("10.00"),
        Decimal("90.00"),
    )

    staff = bearer(token_for(admin))
    allocated = client.post(f"/api/v1/leads/{pending.id}/allocate", json={"partner_id": str(partner.id)}, headers=staff)
    assert allocated.status_code == 200 and allocated.json["allocated_to"] == str(partner.id)
    unknown = client.post(f"/api/v1/leads/{pending.id}/allocate", json={"partner_id": str(uuid.uuid4())}, headers=staff)
    assert unknown.status_code == 404
