"""Evidence through the API (issue 19 item 1): reserve, send the bytes, attach; on local storage (the API receives
the bytes under a signed ticket) and on S3 (moto: the bytes go to the bucket). The file is checked by content, used
once, by its uploader, for the lead it was reserved for; a refusal writes nothing; the pipeline's own rules hold."""

import io
import uuid

import pytest
import requests
import sqlalchemy as sa

from app.extensions import db
from app.files import storage
from app.models import LeadActivity, LeadEvidence, StoredFile
from tests import factories
from tests.api_support import bearer, key_for, key_headers, token_for
from tests.conftest import make_app
from tests.storage_support import (
    backend_config,
    pdf_bytes,
    png_bytes,
    s3_endpoint,  # noqa: F401  (fixture)
    stored_keys,
)


def reserve(client, lead_id, headers, name="quote.pdf", size=100):
    return client.post(
        f"/api/v1/leads/{lead_id}/evidence/uploads", json={"filename": name, "size": size}, headers=headers
    )


def send_bytes(client, ticket, data, name="quote.pdf"):
    """What an integrator does with a ticket: POST the fields, then the file, to upload_url, without credentials."""
    if ticket["upload_url"].startswith("http://localhost/"):
        form = {**ticket["fields"], ticket["file_field"]: (io.BytesIO(data), name)}
        return client.post(ticket["upload_url"], data=form, content_type="multipart/form-data").status_code
    return requests.post(
        ticket["upload_url"], data=ticket["fields"], files={"file": (name, data)}, timeout=10
    ).status_code


def attach(client, lead_id, headers, file_id, description="Signed quote"):
    return client.post(
        f"/api/v1/leads/{lead_id}/evidence", json={"file_id": str(file_id), "description": description}, headers=headers
    )


def evidence_count(lead_id) -> int:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(LeadEvidence).where(LeadEvidence.lead_id == lead_id)
    )


@pytest.fixture
def world():
    partner = factories.make_partner()
    lead = factories.make_lead(assignee=partner, title="Roof job")
    db.session.commit()
    return partner, lead


def test_local_storage_reserve_send_attach_list_and_download(client, world):
    partner, lead = world
    headers = bearer(token_for(partner.user))
    reserved = reserve(client, lead.id, headers)
    assert reserved.status_code == 201, reserved.json
    ticket = reserved.json
    assert ticket["method"] == "POST" and ticket["file_field"] == "file" and ticket["fields"] == {}
    assert ticket["upload_url"].startswith(f"http://localhost/api/v1/uploads/{ticket['file_id']}?token=")
    assert evidence_count(lead.id) == 0

    assert send_bytes(client, ticket, pdf_bytes()) == 204  # no credentials: the ticket is the authority
    added = attach(client, lead.id, headers, ticket["file_id"])
    assert added.status_code == 201, added.json
    assert added.json["file_id"] == ticket["file_id"] and added.json["file_type"] == "pdf"
    assert added.json["name"] == "quote.pdf" and added.json["size_bytes"] == len(pdf_bytes())
    stored = db.session.get(StoredFile, uuid.UUID(ticket["file_id"]))
    assert stored.is_ready and not stored.awaiting_claim and stored.cp_id == partner.id
    activity = db.session.scalars(sa.select(LeadActivity).where(LeadActivity.lead_id == lead.id)).all()
    assert [a.action for a in activity] == ["evidence_added"]

    listed = client.get(f"/api/v1/leads/{lead.id}/evidence", headers=headers)
    assert listed.status_code == 200 and [e["id"] for e in listed.json["data"]] == [added.json["id"]]
    download = client.get(f"/api/v1/leads/{lead.id}/evidence/{added.json['id']}/file", headers=headers)
    assert download.status_code == 200 and download.data == pdf_bytes() and download.mimetype == "application/pdf"

    again = attach(client, lead.id, headers, ticket["file_id"])  # a file is attached once
    assert again.status_code == 422 and "file_id" in again.json["errors"]
    assert send_bytes(client, ticket, pdf_bytes()) == 409
    assert evidence_count(lead.id) == 1


def test_an_api_key_with_leads_write_adds_evidence_and_one_with_only_read_lists_it(client, world):
    partner, lead = world
    writer = key_headers(key_for(partner.user, ["leads:write"]))
    reader = key_headers(key_for(partner.user, ["leads:read"]))
    ticket = reserve(client, lead.id, writer, "site.png").json
    assert send_bytes(client, ticket, png_bytes(), "site.png") == 204
    assert attach(client, lead.id, writer, ticket["file_id"]).json["file_type"] == "image"
    assert reserve(client, lead.id, reader).status_code == 403
    assert len(client.get(f"/api/v1/leads/{lead.id}/evidence", headers=reader).json["data"]) == 1


def test_the_ticket_is_checked_and_the_bytes_are_checked_by_content(client, world):
    partner, lead = world
    headers = bearer(token_for(partner.user))
    ticket = reserve(client, lead.id, headers).json
    other_ticket = reserve(client, lead.id, headers, "other.pdf").json
    file_url = ticket["upload_url"].split("?")[0]
    forged = client.post(
        f"{file_url}?token=not-a-token",
        data={"file": (io.BytesIO(pdf_bytes()), "q.pdf")},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 403 and forged.mimetype == "application/problem+json"
    borrowed_token = other_ticket["upload_url"].split("?token=")[1]  # another file's ticket does not open this one
    borrowed = client.post(
        f"{file_url}?token={borrowed_token}",
        data={"file": (io.BytesIO(pdf_bytes()), "q.pdf")},
        content_type="multipart/form-data",
    )
    assert borrowed.status_code == 403
    no_file = client.post(ticket["upload_url"], data={}, content_type="multipart/form-data")
    assert no_file.status_code == 422 and "file" in no_file.json["errors"]

    disguised = b"MZ\x90\x00" + b"\x00" * 200  # a Windows executable named quote.pdf
    assert send_bytes(client, ticket, disguised) == 422
    row = db.session.get(StoredFile, uuid.UUID(ticket["file_id"]))
    db.session.refresh(row)
    assert not row.is_ready and row.awaiting_claim  # the reservation waits for the right bytes
    refused = attach(client, lead.id, headers, ticket["file_id"])  # nothing arrived: the reservation is dropped
    assert refused.status_code == 422 and "did not arrive" in refused.json["errors"]["file_id"][0]
    db.session.expire_all()
    assert db.session.get(StoredFile, uuid.UUID(ticket["file_id"])) is None
    assert evidence_count(lead.id) == 0


def test_reservations_refuse_bad_names_sizes_and_people_who_may_not_work_the_lead(client, world):
    partner, lead = world
    headers = bearer(token_for(partner.user))
    exe = reserve(client, lead.id, headers, "setup.exe")
    assert exe.status_code == 422 and "filename" in exe.json["errors"]
    huge = reserve(client, lead.id, headers, size=200 * 1024 * 1024)
    assert huge.status_code == 422 and "size" in huge.json["errors"]
    for body in ({"filename": "a.pdf"}, {"filename": "a.pdf", "size": 0}, {"filename": "", "size": 5}, {"size": "5"}):
        answer = client.post(f"/api/v1/leads/{lead.id}/evidence/uploads", json=body, headers=headers)
        assert answer.status_code == 422, body

    originated = factories.make_lead(originator=partner, title="Sent in by us")
    viewer = factories.make_member(partner, "viewer")
    other = factories.make_partner()
    super_admin = factories.make_user("super_admin")
    db.session.commit()
    assert reserve(client, originated.id, headers).status_code == 403  # it reads its own lead, works only assigned
    assert reserve(client, lead.id, bearer(token_for(viewer))).status_code == 403
    assert reserve(client, lead.id, bearer(token_for(other.user))).status_code == 404
    assert reserve(client, lead.id, bearer(token_for(super_admin))).status_code == 403
    assert reserve(client, uuid.uuid4(), headers).status_code == 404
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StoredFile)) == 0


def test_a_file_is_used_by_its_uploader_for_evidence_only(client, world):
    partner, lead = world
    admin = factories.make_user("admin")
    manager = factories.make_member(partner, "manager")
    db.session.commit()
    admin_headers = bearer(token_for(admin))
    ticket = reserve(client, lead.id, admin_headers).json
    assert send_bytes(client, ticket, pdf_bytes()) == 204
    stolen = attach(client, lead.id, bearer(token_for(manager)), ticket["file_id"])  # not the manager's upload
    assert stolen.status_code == 422 and evidence_count(lead.id) == 0
    slip_ticket = client.post(
        "/api/v1/money/uploads", json={"kind": "bank_slip", "filename": "slip.pdf", "size": 50}, headers=admin_headers
    ).json
    assert send_bytes(client, slip_ticket, pdf_bytes(), "slip.pdf") == 204
    assert attach(client, lead.id, admin_headers, slip_ticket["file_id"]).status_code == 422  # a bank slip
    assert attach(client, lead.id, admin_headers, uuid.uuid4()).status_code == 422
    assert attach(client, lead.id, admin_headers, ticket["file_id"]).status_code == 201  # the admin works any lead
    assert evidence_count(lead.id) == 1


def test_evidence_of_another_lead_is_not_reachable_through_this_one(client, world):
    partner, lead = world
    other_lead = factories.make_lead(assignee=partner, title="Second")
    row = storage.save_bytes(pdf_bytes(), "evidence", "x.pdf", "application/pdf", cp_id=partner.id)
    evidence = LeadEvidence(lead_id=other_lead.id, file_id=row.id, file_type="pdf")
    db.session.add(evidence)
    db.session.commit()
    headers = bearer(token_for(partner.user))
    assert client.get(f"/api/v1/leads/{lead.id}/evidence/{evidence.id}/file", headers=headers).status_code == 404
    assert client.get(f"/api/v1/leads/{other_lead.id}/evidence/{evidence.id}/file", headers=headers).status_code == 200


# --- S3 ------------------------------------------------------------------------------------------------------


@pytest.fixture
def s3_app(request):
    app = make_app(**backend_config("s3", request.getfixturevalue("s3_endpoint")))
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def test_s3_the_bytes_go_to_the_bucket_and_are_checked_when_attached(s3_app, world):
    partner, lead = world
    client = s3_app.test_client()
    headers = bearer(token_for(partner.user))
    ticket = reserve(client, lead.id, headers).json
    assert ticket["upload_url"].startswith(s3_app.config["S3_ENDPOINT_URL"])
    assert ticket["fields"]["key"].startswith("evidence/") and "policy" in str(ticket["fields"]).lower()
    assert send_bytes(client, ticket, pdf_bytes()) in (200, 201, 204)
    added = attach(client, lead.id, headers, ticket["file_id"])
    assert added.status_code == 201, added.json
    key = db.session.get(StoredFile, uuid.UUID(ticket["file_id"])).storage_key
    assert key in stored_keys(s3_app)
    download = client.get(f"/api/v1/leads/{lead.id}/evidence/{added.json['id']}/file", headers=headers)
    assert download.status_code == 302 and download.headers["Location"].startswith(s3_app.config["S3_ENDPOINT_URL"])
    assert requests.get(download.headers["Location"], timeout=10).content == pdf_bytes()

    local_receiver = client.post(
        f"/api/v1/uploads/{ticket['file_id']}?token=x", data={"file": (io.BytesIO(b"x"), "a.pdf")}
    )
    assert local_receiver.status_code in (403, 404)  # with S3 the API takes no bytes


def test_s3_bytes_that_do_not_match_their_name_are_removed_with_the_reservation(s3_app, world):
    partner, lead = world
    client = s3_app.test_client()
    headers = bearer(token_for(partner.user))
    ticket = reserve(client, lead.id, headers).json
    assert send_bytes(client, ticket, png_bytes()) in (200, 201, 204)  # a PNG named quote.pdf
    key = ticket["fields"]["key"]
    assert key in stored_keys(s3_app)
    refused = attach(client, lead.id, headers, ticket["file_id"])
    assert refused.status_code == 422 and "does not match" in refused.json["errors"]["file_id"][0]
    db.session.expire_all()
    assert db.session.get(StoredFile, uuid.UUID(ticket["file_id"])) is None and key not in stored_keys(s3_app)
    assert evidence_count(lead.id) == 0
