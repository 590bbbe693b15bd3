"""Input no client should send, answered by the API as problem JSON (4xx), never a 500, and nothing written: the
hazards Schemathesis (tests/test_api_schemathesis.py) runs into only by luck, each tried here on purpose. Text the
database cannot store (NUL, lone surrogates) is refused once for every operation (app/api/principal.py), huge
numbers by the schemas, forged cursors by the pagination, malformed bodies by the JSON parser."""

import base64
import json

import pytest

from app.extensions import db
from app.models import Lead
from tests import factories
from tests.api_support import bearer, key_for, key_headers, token_for
from tests.report_summary import record

PROBLEM = "application/problem+json"


@pytest.fixture
def people():
    partner = factories.make_partner()
    admin = factories.make_user("admin")
    lead = factories.make_lead(assignee=partner, title="Hazard lead")
    db.session.commit()
    return {"partner": partner, "admin": admin, "lead": lead, "lead_id": lead.id, "version": lead.version}


def refused(answer, status: int, field: str | None = None) -> bool:
    assert answer.status_code == status, (answer.status_code, answer.data[:300])
    assert answer.mimetype == PROBLEM, answer.mimetype
    assert answer.json["status"] == status
    if field is not None:
        assert field in answer.json.get("errors", {}), answer.json
    record("api_hazards", refused=1)
    return True


def unchanged(people) -> bool:
    db.session.expire_all()
    lead = db.session.get(Lead, people["lead_id"])
    return lead.version == people["version"] and lead.lost_reason is None


def test_text_the_database_cannot_store_is_refused_where_it_was_sent(client, people):
    headers = bearer(token_for(people["partner"].user))
    stage = f"/api/v1/leads/{people['lead_id']}/stage"
    body = {"stage": "lost", "lost_reason": "went quiet\x00", "version": people["version"]}
    assert refused(client.post(stage, json=body, headers=headers), 422, "lost_reason") and unchanged(people)
    surrogate = json.dumps({"stage": "lost", "version": people["version"]})[:-1] + ', "lost_reason": "\\ud800"}'
    answer = client.post(stage, data=surrogate, content_type="application/json", headers=headers)
    assert refused(answer, 422, "lost_reason") and unchanged(people)
    lead = {"first_name": "Ada", "last_name": "Byron", "contact_email": "ada@example.org"}
    named = client.post("/api/v1/leads", json={**lead, "custom_fields": {"colour\x00": "red"}}, headers=headers)
    assert refused(named, 422, "custom_fields")
    assert refused(client.post("/api/v1/leads", json={**lead, "title": "a\x00b"}, headers=headers), 422, "title")
    assert refused(client.get("/api/v1/leads?stage=new%00", headers=headers), 422, "stage")
    # before any credentials: the public sign-in refuses it the same way
    token = client.post("/api/v1/auth/token", json={"email": "a@example.org", "password": "pass\x00word"})
    assert refused(token, 422, "password")
    assert db.session.query(Lead).count() == 1


def test_credentials_come_first_then_the_text_check(client, people):
    """An unauthenticated request is told to authenticate, whatever it carries."""
    answer = client.post("/api/v1/leads", json={"title": "a\x00b"}, headers={"X-API-Key": "lf_nope"})
    assert refused(answer, 401)


def test_huge_numbers_are_refused_by_the_schema(client, people):
    headers = key_headers(key_for(people["partner"].user, ["leads:read", "leads:write"]))
    stage = f"/api/v1/leads/{people['lead_id']}/stage"
    for version in (10**30, -(10**30), 2**31, 0, "1", 1.5, True):
        answer = client.post(stage, json={"stage": "won", "version": version}, headers=headers)
        assert refused(answer, 422, "version") and unchanged(people)
    amounts = f"/api/v1/leads/{people['lead_id']}/amounts"
    for amount in ("1e400", "9" * 400, 12.5, "12.345", "NaN", "Infinity", "1,000"):
        body = {"lead_value": amount, "commission_amount": "1.00", "version": people["version"]}
        assert refused(client.put(amounts, json=body, headers=headers), 422, "lead_value") and unchanged(people)
    for limit in (10**30, 0, 101, -1):
        assert refused(client.get(f"/api/v1/leads?limit={limit}", headers=headers), 422, "limit")


def test_a_cursor_the_api_did_not_give_out_is_a_422(client, people):
    headers = bearer(token_for(people["admin"]))
    forged = [[1, 2], ["2026-01-01T00:00:00"], {"a": 1, "b": 2}, ["not a date", "x"], ["2026-01-01", 5], "plain"]
    cursors = [base64.urlsafe_b64encode(json.dumps(value).encode()).decode() for value in forged]
    cursors += ["%%%", "\u00e9t\u00e9", base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(), "A" * 201]
    for cursor in cursors:
        assert refused(client.get("/api/v1/leads", query_string={"cursor": cursor}, headers=headers), 422, "cursor")
    page = client.get("/api/v1/leads", query_string={"limit": 1}, headers=headers)
    assert page.status_code == 200 and page.json["next_cursor"] is None  # one lead: no next page


def test_malformed_bodies_are_problems_not_crashes(client, people):
    headers = bearer(token_for(people["partner"].user))
    stage = f"/api/v1/leads/{people['lead_id']}/stage"
    nested = "[" * 100_000 + "]" * 100_000
    assert refused(client.post(stage, data=nested, content_type="application/json", headers=headers), 422, "body")
    for raw in (b"\xff\xfe{", b'{"stage": ', b"{'stage': 'won'}"):
        assert refused(client.post(stage, data=raw, content_type="application/json", headers=headers), 400)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml", None):
        body = json.dumps({"stage": "won", "version": people["version"]})
        answer = client.post(stage, data=body, content_type=content_type, headers=headers)
        assert refused(answer, 422, "stage")  # not JSON: as if nothing was sent, so the fields are missing
    assert refused(client.post(stage, data=b"", content_type="application/json", headers=headers), 422, "stage")
    assert refused(client.post(stage, json=[1, 2], headers=headers), 422)
    assert unchanged(people)


def test_timestamps_carry_their_offset_and_any_offset_is_read(client, people):
    headers = bearer(token_for(people["admin"]))
    lead = client.get(f"/api/v1/leads/{people['lead_id']}", headers=headers).json
    assert lead["created_at"].endswith("+00:00") and lead["updated_at"].endswith("+00:00")
    created = people["lead"].created_at
    ahead = created.replace(microsecond=0).isoformat() + "+14:00"  # 14 hours before it in UTC: it is after
    found = client.get("/api/v1/leads", query_string={"created_after": ahead}, headers=headers)
    assert [row["id"] for row in found.json["data"]] == [str(people["lead_id"])]
    for moment in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "yesterday"):
        answer = client.get("/api/v1/leads", query_string={"created_after": moment}, headers=headers)
        assert refused(answer, 422, "created_after")


def test_a_method_the_path_does_not_take_is_a_405_that_names_the_ones_it_does(client, people):
    headers = bearer(token_for(people["admin"]))
    for method, path, allowed in (
        ("DELETE", "/api/v1/leads", {"GET", "POST"}),
        ("TRACE", f"/api/v1/leads/{people['lead_id']}", {"GET"}),
        ("PATCH", "/api/v1/auth/token", {"POST"}),
    ):
        answer = client.open(path, method=method, headers=headers)
        assert refused(answer, 405)
        assert allowed <= {m.strip() for m in answer.headers["Allow"].split(",")}
